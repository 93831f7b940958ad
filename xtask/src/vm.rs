//! Runs a command inside a virtme-ng VM: the host's root filesystem (read-only) and this
//! repository at the same path, a read-write `results/` directory, the guest's exit status
//! returned as ours. Under TCG, because this machine's /dev/kvm cannot run QEMU (README).

use std::{
    io::{BufRead as _, BufReader, Write as _},
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{bail, Context as _, Result};

use crate::sh::{display, probe, workspace_root};

#[derive(clap::Args)]
pub struct Options {
    /// Kernel image to boot (default: the newest 6.12 backports kernel in /boot).
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Give up (and fail with status 124) after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    /// Guest memory.
    #[arg(long, default_value = "2G")]
    pub memory: String,
    /// The command to run in the guest (after `--`).
    #[arg(trailing_var_arg = true, required = true)]
    pub command: Vec<String>,
}

/// Where guests can write files the host keeps.
pub fn results_dir() -> PathBuf {
    workspace_root().join("results")
}

pub fn default_kernel() -> Result<PathBuf> {
    let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .context("cannot read /boot")?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-6.12"))
        })
        .collect();
    kernels.sort();
    kernels
        .pop()
        .context("no 6.12 kernel in /boot for the VM: run `cargo xtask setup`")
}

fn vng_path() -> Result<PathBuf> {
    // pip puts scripts next to the interpreter; PATH may not have them on a fresh machine.
    let scripts = probe(
        "python3",
        &[
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ],
    );
    if let Some(dir) = scripts {
        let p = PathBuf::from(dir.trim()).join("vng");
        if p.exists() {
            return Ok(p);
        }
    }
    if probe("vng", &["--version"]).is_some() {
        return Ok(PathBuf::from("vng"));
    }
    bail!("vng (virtme-ng) not found: run `cargo xtask setup`")
}

/// Single-quotes a word for the guest's shell.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

pub fn run(opts: &Options) -> Result<i32> {
    run_capturing(opts).map(|(code, _)| code)
}

/// As [`run`], also returning what the guest printed on its standard output.
pub fn run_capturing(opts: &Options) -> Result<(i32, String)> {
    let kernel = match &opts.kernel {
        Some(k) => k.clone(),
        None => default_kernel()?,
    };
    let results = results_dir();
    std::fs::create_dir_all(&results)?;
    let root = workspace_root();
    let command: Vec<String> = opts.command.iter().map(|w| quote(w)).collect();
    let mut cmd = Command::new("timeout");
    cmd.arg(opts.timeout.to_string())
        .arg(vng_path()?)
        .arg("--run")
        .arg(&kernel)
        // /dev/kvm here is a nested device QEMU cannot use; -cpu qemu64 boots faster under TCG.
        .args(["--disable-kvm", "--qemu-opts=-cpu qemu64", "--cpus", "2"])
        .args(["--memory", &opts.memory])
        .arg("--rwdir")
        .arg(&results)
        .arg("--cwd")
        .arg(&root)
        .arg("--exec")
        .arg(command.join(" "))
        .current_dir(&root)
        .stdin(Stdio::null())
        // QEMU reopens fds 1 and 2; piping both keeps them from clobbering each other.
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    eprintln!("+ {}", display(&cmd));
    let mut child = cmd.spawn().context("cannot start vng")?;
    let err = child.stderr.take().expect("piped");
    let forward_err = std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("{line}");
        }
    });
    let out = child.stdout.take().expect("piped");
    let mut printed = String::new();
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        println!("{line}");
        let _ = std::io::stdout().flush();
        printed.push_str(&line);
        printed.push('\n');
    }
    let _ = forward_err.join();
    let status = child.wait()?;
    let code = status.code().unwrap_or(1);
    if code == 124 {
        eprintln!("xtask: the VM did not finish within {} s", opts.timeout);
    }
    Ok((code, printed))
}
