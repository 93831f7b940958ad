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
    let pathtrace = workspace_root().join("target/debug/pathtrace");
    let code = vm::run(&vm::Options {
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
    Ok(())
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
