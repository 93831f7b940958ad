//! Capture figures of `cargo xtask bench`, on the host kernel, over a veth pair between two
//! namespaces:
//!
//! * program cost per packet from `kernel.bpf_stats_enabled` (`run_time_ns / run_cnt` of the TC
//!   programs), for traffic the filter rejects and for traffic it reports;
//! * TCP throughput (iperf3) with pathtrace attached / without, interleaved in one run;
//! * the highest rate of matching packets (UDP, paced by a generator in this process) that
//!   pathtrace delivers with zero lost events;
//! * attach and detach time for 200 interfaces in 50 namespaces.

use std::{
    fs::File,
    net::UdpSocket,
    os::fd::AsRawFd as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use pathtrace_testbed::{cmd::ip, Lab};

use crate::bench_baseline;

/// A MAC no interface of the bench has: the filter rejects everything.
const UNUSED_MAC: &str = "02:00:5e:00:53:99";

struct Pair {
    /// Owns the namespaces: dropping it removes them.
    _lab: Lab,
    a: String,
    b: String,
    mac_a: String,
}

fn pair() -> Result<Pair> {
    let mut lab = Lab::new("bench");
    let a = lab.netns("a")?;
    let b = lab.netns("b")?;
    lab.veth((&a, "va"), (&b, "vb"))?;
    lab.addr(&a, "va", "10.95.0.1/24")?;
    lab.addr(&b, "vb", "10.95.0.2/24")?;
    let mac_a = lab.mac_of(&a, "va")?;
    Ok(Pair {
        _lab: lab,
        a,
        b,
        mac_a,
    })
}

/// A running `pathtrace trace` on both ends of the pair, writing JSON to `out`.
struct Traced {
    child: Child,
    out: PathBuf,
}

impl Traced {
    fn start(bin: &Path, p: &Pair, filter_mac: &str, out: &Path) -> Result<Self> {
        let mut child = Command::new(bin)
            .args(["trace", "--output", "json", "--no-drops", "--no-ovs"])
            .args(["-i", &format!("{}:va", p.a), "-i", &format!("{}:vb", p.b)])
            .args(["--filter-mac", filter_mac])
            .stdout(File::create(out)?)
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start pathtrace")?;
        // Ready when it prints its "attached" line.
        let stderr = child.stderr.take().context("stderr")?;
        let mut reader = std::io::BufReader::new(stderr);
        let mut line = String::new();
        loop {
            line.clear();
            if std::io::BufRead::read_line(&mut reader, &mut line)? == 0 {
                bail!("pathtrace exited before attaching: {:?}", child.wait()?);
            }
            if line.contains("pathtrace: attached to") {
                break;
            }
        }
        // Keep draining stderr so pathtrace never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        Ok(Self {
            child,
            out: out.to_path_buf(),
        })
    }

    /// SIGINT, wait, and return the summary record.
    fn stop(mut self) -> Result<Value> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait()?;
        if !status.success() {
            bail!("pathtrace failed: {status}");
        }
        let text = std::fs::read_to_string(&self.out)?;
        let last = text.lines().last().context("no output")?;
        let summary: Value = serde_json::from_str(last)?;
        if summary["type"] != "summary" {
            bail!("last line is not the summary: {last}");
        }
        Ok(summary)
    }
}

/// Sum of `run_time_ns` and `run_cnt` over the loaded pathtrace TC programs.
fn tc_stats() -> Result<(u64, u64)> {
    let out = Command::new("bpftool")
        .args(["prog", "show", "-j"])
        .output()?;
    let progs: Value = serde_json::from_slice(&out.stdout)?;
    let mut ns = 0;
    let mut cnt = 0;
    for p in progs.as_array().context("bpftool prog show -j")? {
        if p["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("pathtrace_tc"))
        {
            ns += p["run_time_ns"].as_u64().unwrap_or(0);
            cnt += p["run_cnt"].as_u64().unwrap_or(0);
        }
    }
    Ok((ns, cnt))
}

/// Restores `kernel.bpf_stats_enabled` on drop (it costs two clock reads per program run).
struct BpfStats(String);

impl BpfStats {
    fn enable() -> Result<Self> {
        let path = "/proc/sys/kernel/bpf_stats_enabled";
        let old = std::fs::read_to_string(path)?.trim().to_string();
        std::fs::write(path, "1")?;
        Ok(Self(old))
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = std::fs::write("/proc/sys/kernel/bpf_stats_enabled", &self.0);
    }
}

/// Enters `netns` for the calling thread.
fn enter_netns(netns: &str) -> Result<()> {
    let f = File::open(format!("/run/netns/{netns}"))?;
    // SAFETY: valid fd; affects only this thread.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        bail!("setns {netns}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// Sends UDP datagrams from `netns` to 10.95.0.2:9 at `rate` per second for `secs`; returns
/// how many were sent and the rate achieved.
fn generate(netns: &str, rate: u64, secs: f64) -> Result<(u64, f64)> {
    let netns = netns.to_string();
    std::thread::spawn(move || -> Result<(u64, f64)> {
        enter_netns(&netns)?;
        let sock = UdpSocket::bind("10.95.0.1:0")?;
        sock.connect("10.95.0.2:9")?;
        let payload = [0u8; 64];
        let start = Instant::now();
        let total = (rate as f64 * secs) as u64;
        let mut sent = 0u64;
        while sent < total {
            // Pace in 100 µs steps: send what is due, then yield.
            let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
            while sent < due {
                if sock.send(&payload).is_ok() {
                    sent += 1;
                }
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        let elapsed = start.elapsed().as_secs_f64();
        Ok((sent, sent as f64 / elapsed))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("generator panicked"))?
}

fn iperf_gbps(p: &Pair, secs: u32) -> Result<f64> {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &p.a,
            "iperf3",
            "-c",
            "10.95.0.2",
            "-J",
            "-t",
        ])
        .arg(secs.to_string())
        .output()?;
    let v: Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("iperf3: {}", String::from_utf8_lossy(&out.stderr)))?;
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .map(|b| b / 1e9)
        .with_context(|| format!("no throughput in iperf3 output: {v}"))
}

/// Runs of each per-packet cost measurement.
const COST_RUNS: usize = 3;

/// The run with the median net cost.
fn median_cost(mut runs: Vec<Cost>) -> Cost {
    runs.sort_by(|a, b| a.net_ns().total_cmp(&b.net_ns()));
    runs.swap_remove(runs.len() / 2)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Program time per run of ours and of the empty baseline, from one traffic run.
struct Cost {
    ours_ns: f64,
    baseline_ns: f64,
}

impl Cost {
    /// What our instructions cost: the instrument's overhead taken out.
    fn net_ns(&self) -> f64 {
        self.ours_ns - self.baseline_ns
    }

    fn json(&self) -> Value {
        json!({"raw_ns": self.ours_ns, "baseline_ns": self.baseline_ns, "net_ns": self.net_ns()})
    }
}

/// Attaches the empty baseline program on `ifname` in `netns`.
fn attach_baseline(
    prog: &std::os::fd::OwnedFd,
    netns: &str,
    ifname: &str,
    attach_type: u32,
) -> Result<std::os::fd::OwnedFd> {
    std::thread::scope(|s| {
        s.spawn(|| {
            enter_netns(netns)?;
            let name = std::ffi::CString::new(ifname)?;
            // SAFETY: a valid C string.
            let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if ifindex == 0 {
                bail!("no {ifname} in {netns}");
            }
            bench_baseline::attach(prog, ifindex, attach_type)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("attach thread panicked"))?
    })
}

/// Per-packet program time with a filter that rejects (`filter_mac` unused) or reports, with
/// the empty baseline program on the same two hooks in the same run.
fn cost_per_packet(bin: &Path, p: &Pair, filter_mac: &str, results: &Path) -> Result<Cost> {
    let empty = bench_baseline::load_empty()?;
    let _links = [
        attach_baseline(&empty, &p.a, "va", bench_baseline::BPF_TCX_EGRESS)?,
        attach_baseline(&empty, &p.b, "vb", bench_baseline::BPF_TCX_INGRESS)?,
    ];
    let traced = Traced::start(
        bin,
        p,
        filter_mac,
        &results.join("bench-capture-cost.jsonl"),
    )?;
    let before = tc_stats()?;
    let base_before = bench_baseline::stats(&empty)?;
    generate(&p.a, 20_000, 2.0)?;
    let after = tc_stats()?;
    let base_after = bench_baseline::stats(&empty)?;
    let summary = traced.stop()?;
    let runs = after.1 - before.1;
    let base_runs = base_after.1 - base_before.1;
    if runs < 40_000 || base_runs < 40_000 {
        bail!("only {runs} program runs ({base_runs} baseline) for 40,000 packets x 2 hooks");
    }
    if filter_mac != UNUSED_MAC && summary["events"].as_u64().unwrap_or(0) < 80_000 {
        bail!("matching run reported too few events: {summary}");
    }
    Ok(Cost {
        ours_ns: (after.0 - before.0) as f64 / runs as f64,
        baseline_ns: (base_after.0 - base_before.0) as f64 / base_runs as f64,
    })
}

pub fn run(bin: &Path, results: &Path) -> Result<Value> {
    let p = pair()?;

    eprintln!("==> per-packet program cost (bpf_stats)");
    let stats = BpfStats::enable()?;
    // Three interleaved runs each, the median kept: one run on this shared machine can be
    // off by a third.
    let mut nomatch = Vec::new();
    let mut matching = Vec::new();
    for _ in 0..COST_RUNS {
        nomatch.push(cost_per_packet(bin, &p, UNUSED_MAC, results)?);
        matching.push(cost_per_packet(bin, &p, &p.mac_a, results)?);
    }
    drop(stats);
    let (nomatch, matching) = (median_cost(nomatch), median_cost(matching));
    for (what, c) in [("non-matching", &nomatch), ("matching", &matching)] {
        eprintln!(
            "    {what}: {:.1} ns net ({:.1} ns measured, {:.1} ns for an empty program)",
            c.net_ns(),
            c.ours_ns,
            c.baseline_ns
        );
    }

    eprintln!("==> TCP throughput with / without pathtrace (iperf3, interleaved)");
    let mut server = Command::new("ip")
        .args(["netns", "exec", &p.b, "iperf3", "-s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    std::thread::sleep(Duration::from_millis(500));
    let mut without = Vec::new();
    let mut with = Vec::new();
    for _ in 0..3 {
        without.push(iperf_gbps(&p, 3)?);
        let traced = Traced::start(
            bin,
            &p,
            UNUSED_MAC,
            &results.join("bench-capture-tput.jsonl"),
        )?;
        with.push(iperf_gbps(&p, 3)?);
        traced.stop()?;
    }
    let _ = server.kill();
    let _ = server.wait();
    let (without, with) = (median(without), median(with));
    eprintln!("    {without:.2} Gbit/s without, {with:.2} Gbit/s with");

    eprintln!("==> matching packets delivered with zero lost events");
    let mut rates = Vec::new();
    let mut best = 0.0f64;
    for rate in [100_000u64, 200_000, 400_000] {
        let traced = Traced::start(bin, &p, &p.mac_a, &results.join("bench-capture-rate.jsonl"))?;
        let (sent, achieved) = generate(&p.a, rate, 3.0)?;
        // Let the reader drain.
        std::thread::sleep(Duration::from_millis(500));
        let summary = traced.stop()?;
        let events = summary["events"].as_u64().unwrap_or(0);
        let lost = summary["lost_events"].as_u64().unwrap_or(u64::MAX);
        eprintln!(
            "    asked {rate}/s, sent {sent} at {achieved:.0}/s: {events} events, {lost} lost"
        );
        rates.push(
            json!({"asked_pps": rate, "sent": sent, "achieved_pps": achieved,
                          "events": events, "lost_events": lost}),
        );
        // Two hooks see every datagram (va egress, vb ingress).
        if lost == 0 && events >= 2 * sent {
            best = best.max(achieved);
        } else {
            break;
        }
    }

    eprintln!("==> attach and detach: 200 interfaces in 50 namespaces");
    drop(p);
    let attach = attach_many(bin, results)?;

    Ok(json!({
        "tc_ns_per_packet_nonmatching": nomatch.net_ns(),
        "tc_ns_per_packet_matching": matching.net_ns(),
        "tc_cost_nonmatching": nomatch.json(),
        "tc_cost_matching": matching.json(),
        "iperf3_gbps_without": without,
        "iperf3_gbps_with": with,
        "throughput_ratio": with / without,
        "zero_loss_rates": rates,
        "max_zero_loss_matching_pps": best,
        "attach": attach,
    }))
}

fn attach_many(bin: &Path, results: &Path) -> Result<Value> {
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
