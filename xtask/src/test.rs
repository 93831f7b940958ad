//! The whole suite, as CI runs it: setup, lint, unit tests, host integration tests, and the
//! guest tests inside a VM.

use anyhow::{bail, Context as _, Result};

use crate::{
    setup,
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
    exec(cargo().args(["test"]))?;
    if opts.skip_vm {
        eprintln!("==> VM tests skipped (--skip-vm)");
        return Ok(());
    }
    eprintln!("==> guest tests in a VM (Linux 6.12, Open vSwitch modules)");
    let guest = build_guest_tests()?;
    let expected = count_tests(&guest)?;
    let pathtrace = workspace_root().join("target/debug/pathtrace");
    let (code, printed) = vm::run_capturing(&vm::Options {
        kernel: None,
        timeout: 900,
        memory: "2G".into(),
        command: vec![
            "env".into(),
            format!("PATHTRACE_BIN={}", pathtrace.display()),
            // Guest tests save what real tools print there (parser fixtures come from it).
            format!("PATHTRACE_RESULTS={}", vm::results_dir().display()),
            "RUST_BACKTRACE=1".into(),
            guest,
            "--test-threads=1".into(),
        ],
    })?;
    if code != 0 {
        bail!("guest tests failed in the VM (exit status {code})");
    }
    // libtest exits 0 having run no test at all (a filter, a build that lost them): every
    // guest test must have run and passed.
    let passed = passed_count(&printed)
        .context("the guest printed no test result: did the test binary run?")?;
    if passed != expected {
        bail!("{passed} guest tests passed in the VM, {expected} exist");
    }
    eprintln!("==> all {expected} guest tests passed in the VM");
    Ok(())
}

/// How many tests a libtest binary has (`--list`, on the host: listing runs none).
fn count_tests(binary: &str) -> Result<usize> {
    let out = std::process::Command::new(binary)
        .args(["--list", "--format", "terse"])
        .output()
        .with_context(|| format!("cannot list the tests of {binary}"))?;
    if !out.status.success() {
        bail!("{binary} --list failed");
    }
    let n = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with(": test"))
        .count();
    if n == 0 {
        bail!("{binary} has no tests");
    }
    Ok(n)
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
