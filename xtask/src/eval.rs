//! `cargo xtask eval`: the whole fault matrix of the testbed (`pathtrace_testbed::faults`), one
//! fresh topology per cell, with its table; fails below the floor (95% right, no error). The
//! suite (`cargo xtask test`) runs one cell per class and way.

use anyhow::{bail, Result};

use crate::sh::{cargo, exec, workspace_root};

pub fn run() -> Result<()> {
    exec(cargo().args(["build", "-p", "tracer"]))?;
    exec(cargo().args([
        "build",
        "-p",
        "pathtrace-testbed",
        "--bin",
        "pathtrace-eval",
    ]))?;
    let eval = workspace_root().join("target/debug/pathtrace-eval");
    let status = std::process::Command::new(&eval).status()?;
    if !status.success() {
        bail!("the fault matrix is below its floor (see the table above)");
    }
    Ok(())
}
