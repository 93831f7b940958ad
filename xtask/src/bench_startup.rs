//! Start-up figures of `cargo xtask bench`: the phases of a start to "attached" on a few
//! interfaces, and attach/detach time for many.

use std::{
    fs::File,
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use pathtrace_testbed::{cmd::ip, Lab};

use crate::bench_capture::last_summary;

/// Namespaces of the start-up measurement, each with one veth pair: 8 interfaces.
const STARTUP_NAMESPACES: usize = 4;
const STARTUP_RUNS: usize = 3;

/// Three starts of `pathtrace trace` with every default hook family (TC, drops, Open vSwitch
/// where the kernel has it) on 8 interfaces; the run with the median time to "attached".
pub fn startup(bin: &Path, results: &Path) -> Result<Value> {
    let mut lab = Lab::new("start");
    let mut args: Vec<String> = ["trace", "--output", "json", "--timeout", "0.1"]
        .map(String::from)
        .into();
    for i in 0..STARTUP_NAMESPACES {
        let ns = lab.netns(&format!("s{i}"))?;
        ip(
            &ns,
            &["link", "add", "x0", "type", "veth", "peer", "name", "x1"],
        )?;
        for d in ["x0", "x1"] {
            ip(&ns, &["link", "set", d, "up"])?;
        }
        args.extend(["-i".to_string(), format!("{ns}:*")]);
    }
    let out_path = results.join("bench-capture-startup.jsonl");
    let mut runs = Vec::new();
    for _ in 0..STARTUP_RUNS {
        let status = Command::new(bin)
            .args(&args)
            .stdout(File::create(&out_path)?)
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("pathtrace on 8 interfaces failed: {status}");
        }
        let summary = last_summary(&out_path)?;
        let interfaces = summary["interfaces"].as_array().map_or(0, Vec::len);
        if interfaces != 2 * STARTUP_NAMESPACES {
            bail!("attached to {interfaces} interfaces, expected 8");
        }
        runs.push(summary["timings"].clone());
    }
    let to_attached = |t: &Value| t["to_attached_ms"].as_f64().unwrap_or(f64::NAN);
    runs.sort_by(|a, b| to_attached(a).total_cmp(&to_attached(b)));
    let median = runs[runs.len() / 2].clone();
    let ms = |k: &str| median[k].as_f64().unwrap_or(f64::NAN);
    eprintln!(
        "    {:.0} ms to attached (runs: {}): discovery {:.0}, BTF {:.0}, load {:.0}, TC {:.0}, \
         drops {:.0}, OVS {:.0} ms",
        to_attached(&median),
        runs.iter()
            .map(|r| format!("{:.0}", to_attached(r)))
            .collect::<Vec<_>>()
            .join("/"),
        ms("discovery_ms"),
        ms("btf_ms"),
        ms("load_ms"),
        ms("attach_tc_ms"),
        ms("attach_drops_ms"),
        ms("attach_ovs_ms"),
    );
    Ok(json!({"interfaces": 2 * STARTUP_NAMESPACES, "median": median, "runs": runs}))
}

pub fn attach_many(bin: &Path, results: &Path) -> Result<Value> {
    let mut lab = Lab::new("att");
    let mut args: Vec<String> = vec![
        "trace".into(),
        "--output".into(),
        "json".into(),
        "--timeout".into(),
        "0.1".into(),
        "--no-ovs".into(),
    ];
    for i in 0..50 {
        let ns = lab.netns(&format!("n{i}"))?;
        ip(
            &ns,
            &["link", "add", "a0", "type", "veth", "peer", "name", "a1"],
        )?;
        ip(
            &ns,
            &["link", "add", "b0", "type", "veth", "peer", "name", "b1"],
        )?;
        for d in ["a0", "a1", "b0", "b1"] {
            ip(&ns, &["link", "set", d, "up"])?;
        }
        args.push("-i".into());
        args.push(format!("{ns}:*"));
    }
    let out_path = results.join("bench-capture-attach.jsonl");
    let start = Instant::now();
    let out = Command::new(bin)
        .args(&args)
        .stdout(File::create(&out_path)?)
        .stderr(Stdio::null())
        .status()?;
    let wall = start.elapsed();
    if !out.success() {
        bail!("pathtrace with 200 interfaces failed: {out}");
    }
    let text = std::fs::read_to_string(&out_path)?;
    let summary: Value = serde_json::from_str(text.lines().last().context("no output")?)?;
    let interfaces = summary["interfaces"].as_array().map_or(0, Vec::len);
    if interfaces != 200 {
        bail!("attached to {interfaces} interfaces, expected 200");
    }
    let attach_ms = summary["attach_ms"].as_f64().unwrap_or(f64::NAN);
    let detach_ms = summary["detach_ms"].as_f64().unwrap_or(f64::NAN);
    eprintln!(
        "    attach {attach_ms:.0} ms, detach {detach_ms:.0} ms, whole run {:.0} ms",
        wall.as_secs_f64() * 1e3
    );
    Ok(json!({
        "interfaces": interfaces,
        "namespaces": 50,
        "attach_ms": attach_ms,
        "detach_ms": detach_ms,
        "process_wall_ms": wall.as_secs_f64() * 1e3,
    }))
}
