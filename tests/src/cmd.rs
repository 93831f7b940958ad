//! Running the system tools that build topologies (`ip`, `tc`, `nft`, ...).

use std::process::{Command, Output};

use anyhow::{bail, Context as _, Result};

/// Runs a command, returns its stdout; fails with its stderr if it exits non-zero.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = output(program, args)?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn output(program: &str, args: &[&str]) -> Result<Output> {
    Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program} (is it installed? `cargo xtask setup`)"))
}

/// Runs a command inside a named network namespace.
pub fn in_netns(netns: &str, program: &str, args: &[&str]) -> Result<String> {
    let mut full = vec!["netns", "exec", netns, program];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// `ip` with `-n NETNS`.
pub fn ip(netns: &str, args: &[&str]) -> Result<String> {
    let mut full = vec!["-n", netns];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// Kills every process of `netns` (a server the test stops) and waits until they are gone (or
/// zombies, which serve nothing): a discovery started right after must not find them. Returns
/// how many there were.
pub fn kill_all_in(netns: &str) -> Result<usize> {
    let pids = run("ip", &["netns", "pids", netns])?;
    let pids: Vec<&str> = pids.split_whitespace().collect();
    for pid in &pids {
        run("kill", &[pid])?;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let alive = |pid: &&str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
    };
    while pids.iter().any(alive) {
        if std::time::Instant::now() > deadline {
            bail!("processes of {netns} still alive 10 s after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(pids.len())
}

/// `ping -c COUNT` from `netns`, 0.2 s apart; fails if no reply comes back.
pub fn ping(netns: &str, dst: &str, count: &str) {
    in_netns(netns, "ping", &["-c", count, "-i", "0.2", "-W", "1", dst]).unwrap();
}
