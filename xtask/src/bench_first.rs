//! `cargo xtask bench --only first-packet`: start to "attached" of `trace --mac` without
//! `--dst` (one load, attached to everywhere a frame from the MAC can go, so that its first
//! packet is judged) against `--dhcp` (attached to its expected path), on the same host: the
//! Linux compute node with a router namespace behind its server's bridge. Runs alternate, so
//! that the machine's drift weighs on both alike.

use std::{path::Path, process::Command};

use anyhow::{bail, Context as _, Result};
use pathtrace_testbed::{
    topologies::{LinuxComputeNode, RoutedNetwork},
    Lab,
};
use serde_json::{json, Value};

use crate::bench_capture::median;

/// Runs of each.
const RUNS: usize = 5;
/// Issue 30's floor: the no-`--dst` start within 10 % of `--dhcp`'s.
const FLOOR_RATIO: f64 = 1.10;

pub fn run(bin: &Path, results: &Path) -> Result<()> {
    let mut lab = Lab::new("bfirst");
    let topo = LinuxComputeNode::build(&mut lab)?;
    RoutedNetwork::add(&mut lab, &topo)?;
    let dhcp = ["--dhcp", topo.vm_mac.as_str()];
    let first = ["trace", "--mac", topo.vm_mac.as_str(), "--icmp"];
    let (mut d, mut f) = (Vec::new(), Vec::new());
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let a = timings(bin, &dhcp)?;
        let b = timings(bin, &first)?;
        d.push(to_attached(&a)?);
        f.push(to_attached(&b)?);
        runs.push(json!({"dhcp": a, "first_packet": b}));
    }
    let (dm, fm) = (median(d.clone()), median(f.clone()));
    let ratio = fm / dm;
    println!(
        "Start to attached on the same host ({RUNS} runs each, alternating): --dhcp {dm:.0} ms \
         median, trace --mac without --dst {fm:.0} ms: ratio {ratio:.2} (floor <= {FLOOR_RATIO:.2})"
    );
    std::fs::write(
        results.join("bench-first-packet.json"),
        serde_json::to_string_pretty(&json!({
            "dhcp_ms": d, "first_packet_ms": f, "ratio": ratio, "runs": runs,
        }))?,
    )?;
    if ratio > FLOOR_RATIO {
        bail!("trace --mac without --dst starts {ratio:.2} times as slowly as --dhcp");
    }
    Ok(())
}

/// One short run's `timings` (its report, `--json`).
fn timings(bin: &Path, args: &[&str]) -> Result<Value> {
    let out = Command::new(bin)
        .args(args)
        .args(["--timeout", "0.2", "--json"])
        .output()
        .context("cannot run pathtrace")?;
    let report: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "pathtrace {args:?} printed no report: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if report["timings"].is_null() {
        bail!("no timings in the report of {args:?}");
    }
    Ok(report["timings"].clone())
}

fn to_attached(t: &Value) -> Result<f64> {
    t["to_attached_ms"].as_f64().context("to_attached_ms")
}
