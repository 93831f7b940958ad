//! The whole suite, as CI runs it: setup, lint, unit tests, host integration tests, and the
//! guest tests inside a VM.

use anyhow::{bail, Context as _, Result};

use crate::{
    fuzz, setup,
    sh::{cargo, exec, workspace_root},
    vm,
};

#[derive(clap::Args)]
pub struct Options {
    /// Do not boot a VM (host-only run; CI never passes this).
    #[arg(long)]
    pub skip_vm: bool,
}

pub fn run(opts: &Options) -> Result<()> {
    setup::run(&setup::Options {
        host_only: opts.skip_vm,
    })?;
    eprintln!("==> lint");
    exec(cargo().args(["fmt", "--all", "--check"]))?;
    exec(cargo().args(["clippy", "--all-targets", "--", "-D", "warnings"]))?;
    exec(cargo().args([
        "clippy",
        "-p",
        "pathtrace-testbed",
        "--all-targets",
        "--features",
        "guest",
        "--",
        "-D",
        "warnings",
    ]))?;
    eprintln!("==> unit and host integration tests");
    exec(cargo().args(["build", "-p", "tracer"]))?;
    // Built beside the host tests, which mostly wait on DHCP timeouts; `fuzz::run` then finds
    // it built.
    setup::cargo_fuzz()?;
    let mut fuzz_build = fuzz::build_command(true)
        .spawn()
        .context("cannot start the fuzz build")?;
    let tests = exec(cargo().args(["test"]));
    let built = fuzz_build
        .wait()
        .context("cannot wait for the fuzz build")?;
    tests?;
    if !built.success() {
        bail!("building the fuzz targets failed: {built}");
    }
    eprintln!(
        "==> fuzz smoke: every target for {FUZZ_SMOKE_SECS} s (a long run: cargo xtask fuzz)"
    );
    fuzz::run(&fuzz::Options {
        seconds: FUZZ_SMOKE_SECS,
        runs: None,
        targets: Vec::new(),
        dev: true,
    })?;
    if opts.skip_vm {
        eprintln!("==> VM tests skipped (--skip-vm)");
        return Ok(());
    }
    eprintln!("==> guest tests in a VM (Linux 6.12, Open vSwitch modules)");
    let guest = build_guest_tests()?;
    guest_leg(&guest, None, "6.12.", &[])?;
    eprintln!(
        "==> guest tests in a VM on Debian 12's own kernel (6.1: no tcx, the netlink fallback)"
    );
    let kernel = std::path::PathBuf::from(setup::SECOND_KERNEL_IMAGE);
    guest_leg(&guest, Some(kernel), "6.1.", SECOND_KERNEL_TESTS)
}

/// Long enough for each fuzz target to run its seeds and some thousands of mutations (a
/// crash there fails the suite); the closing notes give the long runs.
const FUZZ_SMOKE_SECS: u64 = 10;

/// The guest tests that run again on the kernel without tcx: attaching (automatic and forced
/// netlink), the OVS hooks, and journeys with their leftover checks.
const SECOND_KERNEL_TESTS: &[&str] = &[
    "runs_on_the_vm_kernel",
    "dhcp_exchange_is_seen_with_the_automatic_attach",
    "dhcp_exchange_is_seen_with_the_netlink_fallback",
    "ovs_datapath_entry_vlan_push_and_output_are_followed",
    "journeys::healthy_path_is_delivered_with_all_four_messages_and_the_reserved_ip",
    "journeys::openflow_drop_flow_on_br_eth2_is_named",
];

/// One VM boot running the guest tests (`only`: those, else all) on `kernel` (else the default
/// 6.12 one), whose release starts with `release`. Fails unless every one of them ran and passed.
fn guest_leg(
    guest: &str,
    kernel: Option<std::path::PathBuf>,
    release: &str,
    only: &[&str],
) -> Result<()> {
    let listed = list_tests(guest)?;
    for name in only {
        if !listed.iter().any(|l| l == name) {
            bail!("no guest test named {name}");
        }
    }
    let expected = if only.is_empty() {
        listed.len()
    } else {
        only.len()
    };
    let pathtrace = workspace_root().join("target/debug/pathtrace");
    let mut command = vec![
        "env".into(),
        format!("PATHTRACE_BIN={}", pathtrace.display()),
        // Guest tests save what real tools print there (parser fixtures come from it).
        format!("PATHTRACE_RESULTS={}", vm::results_dir().display()),
        format!("PATHTRACE_VM_KERNEL={release}"),
        "RUST_BACKTRACE=1".into(),
        guest.to_string(),
        "--test-threads=1".into(),
    ];
    if !only.is_empty() {
        command.push("--exact".into());
        command.extend(only.iter().map(|s| s.to_string()));
    }
    let (code, printed) = vm::run_capturing(&vm::Options {
        kernel,
        // A hang guard, not a limit: 30 guest tests took 16 min under TCG on one machine and
        // the same 18 of them 27 min on another, and each OVN test starts OVN afresh.
        timeout: 3600,
        memory: "2G".into(),
        command,
    })?;
    if code != 0 {
        bail!("guest tests failed in the VM on {release}x (exit status {code})");
    }
    // libtest exits 0 having run no test at all (a filter, a build that lost them): every
    // guest test meant to run must have run and passed.
    let passed = passed_count(&printed)
        .context("the guest printed no test result: did the test binary run?")?;
    if passed != expected {
        bail!("{passed} guest tests passed in the VM on {release}x, {expected} should have");
    }
    eprintln!("==> all {expected} guest tests passed in the VM on {release}x");
    Ok(())
}

/// The tests of a libtest binary (`--list`, on the host: listing runs none).
fn list_tests(binary: &str) -> Result<Vec<String>> {
    let out = std::process::Command::new(binary)
        .args(["--list", "--format", "terse"])
        .output()
        .with_context(|| format!("cannot list the tests of {binary}"))?;
    if !out.status.success() {
        bail!("{binary} --list failed");
    }
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        bail!("{binary} has no tests");
    }
    Ok(names)
}

/// `N` of libtest's `test result: ok. N passed; ...` line.
fn passed_count(printed: &str) -> Option<usize> {
    printed
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("test result: ok. "))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Builds the guest test binary and returns its path.
fn build_guest_tests() -> Result<String> {
    let mut cmd = cargo();
    cmd.args([
        "test",
        "-p",
        "pathtrace-testbed",
        "--features",
        "guest",
        "--test",
        "guest",
        "--no-run",
        "--message-format=json",
    ]);
    eprintln!("+ {}", crate::sh::display(&cmd));
    let out = cmd.output().context("cannot build the guest tests")?;
    if !out.status.success() {
        bail!(
            "building the guest tests failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "guest")
        .find_map(|m| m["executable"].as_str().map(str::to_string))
        .context("cargo did not report the guest test executable")
}

#[cfg(test)]
mod tests {
    use super::passed_count;

    #[test]
    fn the_passed_count_is_read_from_libtest_output() {
        let out = "running 17 tests\ntest a ... ok\n\ntest result: ok. 17 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 726.36s\n";
        assert_eq!(passed_count(out), Some(17));
        assert_eq!(passed_count("running 0 tests\n"), None);
        assert_eq!(
            passed_count("test result: FAILED. 3 passed; 1 failed"),
            None
        );
    }
}
