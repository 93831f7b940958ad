//! Asking another daemon, with a deadline: a wedged ovsdb-server or ovs-vswitchd must cost
//! discovery seconds, not hang it.

use std::{
    io::Read as _,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

/// How long one query of an Open vSwitch daemon may take, in all.
pub const OVS_DEADLINE: Duration = Duration::from_secs(10);
/// How often a running tool is looked at.
const POLL: Duration = Duration::from_millis(20);

/// Runs `cmd` to completion, or kills it at `limit`.
pub fn output(mut cmd: Command, limit: Duration) -> Result<Output> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    // Read both pipes while waiting: a tool that fills one would otherwise block forever.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().context("no stdout")?));
    let stderr = drain(Box::new(child.stderr.take().context("no stderr")?));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{program} did not answer within {} s", limit.as_secs());
        }
        std::thread::sleep(POLL);
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Time left before `deadline`, or an error once it has passed.
pub fn remaining(deadline: Instant, what: &str) -> Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => bail!("{what} did not answer within {} s", OVS_DEADLINE.as_secs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_that_hangs_is_killed_at_the_deadline() {
        let start = Instant::now();
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let err = output(cmd, Duration::from_millis(300)).unwrap_err();
        assert!(
            format!("{err:#}").contains("sleep did not answer"),
            "{err:#}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let out = output(cmd, Duration::from_secs(10)).unwrap();
        assert_eq!(
            (out.status.code(), &out.stdout[..]),
            (Some(3), &b"out\n"[..])
        );
        assert_eq!(out.stderr, b"err\n");
    }
}
