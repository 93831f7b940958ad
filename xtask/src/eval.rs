//! `cargo xtask eval`: the whole fault matrix of the testbed (`pathtrace_testbed::faults`), one
//! fresh topology per cell, with its table; fails below the floor (95% right, no error). It
//! runs in the VM (the Open vSwitch beds need its kernel); `--host` runs the beds the host
//! kernel builds, here; `--interrupted` stops each run by SIGINT instead of its timeout. The
//! suite (`cargo xtask test`) runs one cell per class and way.

use anyhow::{bail, Result};

use crate::{
    sh::{cargo, exec, workspace_root},
    vm,
};

#[derive(clap::Args, Debug)]
pub struct Options {
    /// Only the beds the host kernel builds, on the host.
    #[arg(long)]
    pub host: bool,
    /// Only the cells whose "class way hop" contains this text.
    #[arg(long)]
    pub only: Option<String>,
    /// Stop each run with SIGINT a few seconds after the exchange failed, as people stop it,
    /// instead of letting it reach its timeout: the verdicts must be the same.
    #[arg(long)]
    pub interrupted: bool,
}

/// Every cell boots nothing: one VM runs the whole matrix, 31 cells under TCG.
const VM_TIMEOUT_SECS: u64 = 3600;

pub fn run(opts: &Options) -> Result<()> {
    exec(cargo().args(["build", "-p", "tracer"]))?;
    exec(cargo().args([
        "build",
        "-p",
        "pathtrace-testbed",
        "--bin",
        "pathtrace-eval",
    ]))?;
    let root = workspace_root();
    let eval = root.join("target/debug/pathtrace-eval");
    let mut only: Vec<String> = opts
        .only
        .iter()
        .flat_map(|o| ["--only".to_string(), o.clone()])
        .collect();
    if opts.interrupted {
        only.push("--interrupted".into());
    }
    let ok = if opts.host {
        std::process::Command::new(&eval)
            .arg("--host")
            .args(&only)
            .status()?
            .success()
    } else {
        let pathtrace = root.join("target/debug/pathtrace");
        let (code, _) = vm::run_capturing(&vm::Options {
            kernel: None,
            timeout: VM_TIMEOUT_SECS,
            memory: "2G".into(),
            command: [
                "env".into(),
                format!("PATHTRACE_BIN={}", pathtrace.display()),
                // Each cell's report and recording, to look at a miss.
                format!("PATHTRACE_RESULTS={}", vm::results_dir().display()),
                eval.display().to_string(),
            ]
            .into_iter()
            .chain(only)
            .collect(),
        })?;
        code == 0
    };
    if !ok {
        bail!("the fault matrix is below its floor (see the table above)");
    }
    Ok(())
}
