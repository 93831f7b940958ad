//! `cargo xtask fuzz`: runs every fuzz target of `fuzz/` (cargo-fuzz, libFuzzer with
//! AddressSanitizer, the nightly toolchain) for a given time, seeded with the parser fixtures
//! captured from the real tools, and reports executions and crashes per target. Fails if any
//! target crashed, leaked past its memory limit or hung; the input that did it is kept under
//! `target/fuzz/artifacts/TARGET/`.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{bail, Context as _, Result};

use crate::{
    setup,
    sh::{display, workspace_root},
};

#[derive(clap::Args)]
pub struct Options {
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Stop a target after this many executions (the time limit still applies).
    #[arg(long)]
    pub runs: Option<u64>,
    /// Build without optimisations: quicker to build, slower to run (the suite's smoke run).
    #[arg(long)]
    pub dev: bool,
    /// Only this target (repeatable; default: all of them).
    #[arg(long = "target", value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    pub targets: Vec<String>,
}

/// The targets of `fuzz/fuzz_targets/`, one per reader of untrusted input (`tracer::fuzz`).
pub const TARGETS: &[&str] = &[
    "ovsdb_reply",
    "ovn_reply",
    "dump_flows",
    "libvirt_xml",
    "dnsmasq",
    "recording",
    "event",
];

/// libFuzzer limits per input: a parser that takes longer or more memory than this on one
/// input is a finding (pathtrace reads these on a production host, under deadlines).
const TIMEOUT_SECS: u32 = 10;
const RSS_LIMIT_MB: u32 = 2048;

/// What one target did.
pub struct Outcome {
    pub target: String,
    pub executions: u64,
    pub seconds: f64,
    pub peak_rss_mb: u64,
    /// The input that crashed it, if one did.
    pub crash: Option<PathBuf>,
}

pub fn run(opts: &Options) -> Result<()> {
    setup::cargo_fuzz()?;
    let targets: Vec<&str> = if opts.targets.is_empty() {
        TARGETS.to_vec()
    } else {
        opts.targets.iter().map(String::as_str).collect()
    };
    let profile = profile(opts.dev);
    crate::sh::exec(&mut build_command(opts.dev))?;
    let mut outcomes = Vec::new();
    for t in &targets {
        match opts.runs {
            Some(n) => eprintln!(
                "==> fuzzing {t} for {n} executions (at most {} s)",
                opts.seconds
            ),
            None => eprintln!("==> fuzzing {t} for {} s", opts.seconds),
        }
        outcomes.push(run_target(t, profile, opts.seconds, opts.runs)?);
    }
    eprintln!(
        "\n{:<12} {:>14} {:>10} {:>9}  crash",
        "target", "executions", "exec/s", "peak RSS"
    );
    for o in &outcomes {
        eprintln!(
            "{:<12} {:>14} {:>10.0} {:>6} MB  {}",
            o.target,
            o.executions,
            o.executions as f64 / o.seconds,
            o.peak_rss_mb,
            o.crash
                .as_ref()
                .map_or("none".to_string(), |p| p.display().to_string())
        );
    }
    let crashed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.crash.is_some())
        .map(|o| o.target.as_str())
        .collect();
    if !crashed.is_empty() {
        bail!("fuzz targets crashed: {}", crashed.join(", "));
    }
    Ok(())
}

fn profile(dev: bool) -> &'static str {
    if dev {
        "--dev"
    } else {
        "-O"
    }
}

/// `cargo fuzz build`, unoptimised with `dev`. Its own workspace and target directory, so it
/// may run beside the main workspace's cargo (the suite builds it during the host tests, which
/// mostly wait on DHCP timeouts).
pub fn build_command(dev: bool) -> Command {
    eprintln!("==> building the fuzz targets (nightly, AddressSanitizer)");
    let mut build = cargo_fuzz();
    build.args(["build", profile(dev)]);
    build
}

/// `cargo fuzz` with the nightly toolchain, from the workspace root (whose `fuzz/` it finds).
fn cargo_fuzz() -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", setup::NIGHTLY, "cargo", "fuzz"]);
    c.current_dir(workspace_root());
    c
}

fn run_target(target: &str, profile: &str, seconds: u64, runs: Option<u64>) -> Result<Outcome> {
    let work = workspace_root().join("target/fuzz");
    // The corpus grows across long runs on one machine; the seeds are rebuilt every time. A
    // smoke run starts from the seeds alone: libFuzzer first runs the whole corpus it is given,
    // whatever the time limit, and a grown one takes minutes in an unoptimised build.
    let smoke = profile == "--dev";
    let corpus = work
        .join(if smoke { "smoke-corpus" } else { "corpus" })
        .join(target);
    if smoke && corpus.exists() {
        std::fs::remove_dir_all(&corpus)?;
    }
    let seeds = work.join("seeds").join(target);
    let artifacts = work.join("artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_seeds(target, &seeds)?;
    let mut cmd = cargo_fuzz();
    cmd.args(["run", profile, target])
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={TIMEOUT_SECS}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()));
    if let Some(n) = runs {
        cmd.arg(format!("-runs={n}"));
    }
    eprintln!("+ {}", display(&cmd));
    let start = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", display(&cmd)))?;
    let seconds = start.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&out.stderr);
    let stat = |name: &str| -> Option<u64> {
        log.lines()
            .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .and_then(|v| v.trim().parse().ok())
    };
    let crash = if out.status.success() {
        None
    } else {
        // libFuzzer names the input it saved: "Test unit written to PATH".
        let saved = log
            .lines()
            .find_map(|l| l.split_once("Test unit written to ").map(|(_, p)| p.trim()))
            .map(PathBuf::from);
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        Some(saved.unwrap_or_else(|| artifacts.clone()))
    };
    Ok(Outcome {
        target: target.to_string(),
        executions: stat("number_of_executed_units")
            .with_context(|| format!("{target}: libFuzzer printed no statistics:\n{log}"))?,
        seconds,
        peak_rss_mb: stat("peak_rss_mb").unwrap_or(0),
        crash,
    })
}

/// The starting inputs of `target`: the fixtures captured from the real tools, and the
/// hand-written ones in `fuzz/seeds/TARGET/`.
fn write_seeds(target: &str, dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let root = workspace_root();
    let fixtures = root.join("tracer/fixtures");
    let mut files: Vec<PathBuf> = match target {
        "ovsdb_reply" => matching(&fixtures, "ovsdb-transact-")?,
        "ovn_reply" => matching(&fixtures, "ovn-")?,
        "dump_flows" => matching(&fixtures, "dump-flows-")?,
        "libvirt_xml" => vec![fixtures.join("virsh-dumpxml.xml")],
        "recording" => matching(&fixtures.join("recordings"), "")?,
        _ => Vec::new(),
    };
    let own = root.join("fuzz/seeds").join(target);
    if own.is_dir() {
        files.extend(matching(&own, "")?);
    }
    for f in files {
        let name = f.file_name().context("seed without a name")?;
        std::fs::copy(&f, dir.join(name))
            .with_context(|| format!("cannot copy the seed {}", f.display()))?;
    }
    Ok(())
}

fn matching(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    out.sort();
    Ok(out)
}
