//! `cargo xtask bench --only signal`: how long a journey takes to print its report after the
//! first SIGINT (Ctrl-C), the evidence after the capture included, and after two in a row
//! (which skip it). On the host's Linux compute node with its server dropping DHCP, so that
//! only the signal ends the run.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};
use pathtrace_testbed::{
    cmd::in_netns,
    dhcp::{acquire_lease_within, DhcpClient},
    topologies::LinuxComputeNode,
    Lab, Tracer,
};
use serde_json::json;

/// Runs of each kind.
const RUNS: usize = 5;
/// The floor of issue 36: first signal to report, on the host.
const FLOOR: Duration = Duration::from_secs(2);

pub fn run(bin: &Path, results: &Path) -> Result<()> {
    // SAFETY: set before any thread of ours reads the environment.
    unsafe { std::env::set_var("PATHTRACE_BIN", bin) };
    let mut lab = Lab::new("bsig");
    let topo = LinuxComputeNode::build(&mut lab)?;
    let rules = "add table inet pt_fault; add chain inet pt_fault c { type filter hook input priority 0; }; add rule inet pt_fault c udp dport 67 drop";
    in_netns(&topo.srv, "nft", &[rules])?;
    let mut once = Vec::new();
    let mut twice = Vec::new();
    for i in 0..RUNS {
        once.push(stopped(&mut lab, &topo, &[libc::SIGINT])?);
        twice.push(stopped(&mut lab, &topo, &[libc::SIGINT, libc::SIGINT])?);
        eprintln!(
            "    run {}: {:.0} ms after one SIGINT, {:.0} ms after two",
            i + 1,
            ms(once[i]),
            ms(twice[i])
        );
    }
    let stats = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (once_median, once_max) = stats(&once);
    let (twice_median, twice_max) = stats(&twice);
    println!(
        "Journey report after SIGINT (host, {RUNS} runs): once {:.0} ms median, {:.0} max \
         (evidence read; floor < {} ms); twice {:.0} ms median, {:.0} max (evidence skipped)",
        ms(once_median),
        ms(once_max),
        FLOOR.as_millis(),
        ms(twice_median),
        ms(twice_max)
    );
    std::fs::write(
        results.join("bench-signal.json"),
        serde_json::to_string_pretty(&json!({
            "once_ms": once.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
            "twice_ms": twice.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        }))?,
    )?;
    if once_max >= FLOOR {
        bail!(
            "a report came {:.0} ms after the first SIGINT",
            ms(once_max)
        );
    }
    Ok(())
}

/// One journey stopped by `signals` (100 ms apart) half a second after dhclient gave up: the
/// time from the first signal to pathtrace's end.
fn stopped(lab: &mut Lab, topo: &LinuxComputeNode, signals: &[i32]) -> Result<Duration> {
    let tracer = Tracer::start(&["--dhcp", &topo.vm_mac, "--timeout", "300", "--json"])?;
    let lease = acquire_lease_within(lab, &topo.vm, "eth0", DhcpClient::Dhclient, 3);
    if lease.is_ok() {
        bail!("the exchange was meant to fail");
    }
    std::thread::sleep(Duration::from_millis(500));
    let first = Instant::now();
    for (i, &sig) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        tracer.signal(sig);
    }
    let out = tracer.wait()?;
    let took = first.elapsed();
    let report: serde_json::Value =
        serde_json::from_str(&out.stdout).context("the stopped journey printed no report")?;
    if out.status.code() != Some(1) || report["verdict"] != "stopped" {
        bail!("unexpected end: {out:?}");
    }
    Ok(took)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
