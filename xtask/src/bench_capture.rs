//! Capture figures of `cargo xtask bench`, on the host kernel, over a veth pair between two
//! namespaces:
//!
//! * program cost per packet from `kernel.bpf_stats_enabled` (`run_time_ns / run_cnt` of the TC
//!   programs), for traffic the filter rejects and for traffic it reports;
//! * TCP throughput (iperf3) with pathtrace attached / without, interleaved in one run;
//! * the highest rate of matching events (UDP, paced by a generator in this process, rising
//!   until loss) that pathtrace delivers with zero lost events, held for 10 s, and the CPU time
//!   pathtrace spends per million events;
//! * start-up to "attached" on 8 interfaces, phase by phase (the summary's `timings`);
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

use pathtrace_testbed::Lab;

use crate::{bench_baseline, bench_startup};

/// A MAC no interface of the bench has: the filter rejects everything.
pub(crate) const UNUSED_MAC: &str = "02:00:5e:00:53:99";

pub(crate) struct Pair {
    /// Owns the namespaces: dropping it removes them.
    _lab: Lab,
    pub(crate) a: String,
    pub(crate) b: String,
    pub(crate) mac_a: String,
}

pub(crate) fn pair() -> Result<Pair> {
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
pub(crate) struct Traced {
    child: Child,
    out: PathBuf,
}

impl Traced {
    pub(crate) fn start(bin: &Path, p: &Pair, filter_mac: &str, out: &Path) -> Result<Self> {
        Self::start_with(bin, p, &["--filter-mac", filter_mac], out)
    }

    /// [`Self::start`] with the filter flags given.
    pub(crate) fn start_with(bin: &Path, p: &Pair, filter: &[&str], out: &Path) -> Result<Self> {
        let mut child = Command::new(bin)
            .args(["trace", "--output", "json", "--no-drops", "--no-ovs"])
            .args(["-i", &format!("{}:va", p.a), "-i", &format!("{}:vb", p.b)])
            .args(filter)
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
    pub(crate) fn stop(mut self) -> Result<Value> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait()?;
        if !status.success() {
            bail!("pathtrace failed: {status}");
        }
        last_summary(&self.out)
    }

    /// CPU seconds (user + system, all threads) the process has used so far.
    fn cpu_seconds(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // The fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(") ").context("/proc/PID/stat")?.1;
        let field = |i: usize| -> Result<f64> {
            Ok(rest.split(' ').nth(i).context("/proc/PID/stat")?.parse()?)
        };
        // utime and stime, fields 14 and 15 of proc(5), the 12th and 13th after the name.
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        Ok((field(11)? + field(12)?) / hz)
    }
}

impl Drop for Traced {
    /// A run that fails half-way stops its pathtrace too, the way a user would (SIGINT: it
    /// detaches everything), instead of leaving it attached behind the bench.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // SAFETY: signalling our own child, which has not been reaped.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
            let _ = self.child.wait();
        }
    }
}

/// The summary record `pathtrace trace --output json` ends its output with.
pub(crate) fn last_summary(out: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(out)?;
    let last = text.lines().last().context("no output")?;
    let summary: Value = serde_json::from_str(last)?;
    if summary["type"] != "summary" {
        bail!("last line is not the summary: {last}");
    }
    Ok(summary)
}

/// Sum of `run_time_ns` and `run_cnt` over the loaded pathtrace TC programs.
fn tc_stats() -> Result<(u64, u64)> {
    Ok(tc_programs()?
        .iter()
        .fold((0, 0), |(ns, cnt), p| (ns + p.run_time_ns, cnt + p.run_cnt)))
}

/// One loaded pathtrace TC program's `bpf_stats` counters.
pub(crate) struct TcProgram {
    pub(crate) id: u64,
    pub(crate) run_time_ns: u64,
    pub(crate) run_cnt: u64,
}

/// The loaded pathtrace TC programs (all instances), from `bpftool prog show`.
pub(crate) fn tc_programs() -> Result<Vec<TcProgram>> {
    let out = Command::new("bpftool")
        .args(["prog", "show", "-j"])
        .output()?;
    let progs: Value = serde_json::from_slice(&out.stdout)?;
    Ok(progs
        .as_array()
        .context("bpftool prog show -j")?
        .iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("pathtrace_tc"))
        })
        .filter_map(|p| {
            Some(TcProgram {
                id: p["id"].as_u64()?,
                run_time_ns: p["run_time_ns"].as_u64().unwrap_or(0),
                run_cnt: p["run_cnt"].as_u64().unwrap_or(0),
            })
        })
        .collect())
}

/// Restores `kernel.bpf_stats_enabled` on drop (it costs two clock reads per program run).
pub(crate) struct BpfStats(String);

impl BpfStats {
    pub(crate) fn enable() -> Result<Self> {
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

/// Datagrams handed to the kernel per `sendmmsg(2)`: one system call per datagram would make
/// the generator, not pathtrace, the limit.
const SEND_BATCH: usize = 64;

/// Sends UDP datagrams from `netns` to 10.95.0.2:9 at `rate` per second for `secs`; returns
/// how many were sent and the rate achieved.
pub(crate) fn generate(netns: &str, rate: u64, secs: f64) -> Result<(u64, f64)> {
    let netns = netns.to_string();
    std::thread::spawn(move || -> Result<(u64, f64)> {
        enter_netns(&netns)?;
        let sock = UdpSocket::bind("10.95.0.1:0")?;
        sock.connect("10.95.0.2:9")?;
        let mut payload = [0u8; 64];
        let mut iov = libc::iovec {
            iov_base: payload.as_mut_ptr().cast(),
            iov_len: payload.len(),
        };
        // SAFETY: an all-zero mmsghdr is valid; each then points at the one iovec.
        let mut msgs: Vec<libc::mmsghdr> = (0..SEND_BATCH)
            .map(|_| {
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_iov = &mut iov;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        let start = Instant::now();
        let total = (rate as f64 * secs) as u64;
        let mut sent = 0u64;
        while sent < total {
            // Pace in 100 µs steps: send what is due, then yield.
            let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
            while sent < due {
                let n = (due - sent).min(SEND_BATCH as u64) as u32;
                // SAFETY: `msgs` holds SEND_BATCH valid headers whose buffers outlive the call.
                let r = unsafe { libc::sendmmsg(sock.as_raw_fd(), msgs.as_mut_ptr(), n, 0) };
                if r > 0 {
                    sent += r as u64;
                } else if start.elapsed().as_secs_f64() > secs * 2.0 {
                    bail!("sendmmsg: {}", std::io::Error::last_os_error());
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

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
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

/// Non-matching and matching net cost per packet, in ns, on a pair of its own.
pub fn costs(bin: &Path, results: &Path) -> Result<(f64, f64)> {
    let p = pair()?;
    let (nomatch, matching) = program_costs(bin, &p, results)?;
    Ok((nomatch.net_ns(), matching.net_ns()))
}

/// The median non-matching and matching costs of interleaved runs.
fn program_costs(bin: &Path, p: &Pair, results: &Path) -> Result<(Cost, Cost)> {
    eprintln!("==> per-packet program cost (bpf_stats)");
    let stats = BpfStats::enable()?;
    // Three interleaved runs each, the median kept: one run on this shared machine can be
    // off by a third.
    let mut nomatch = Vec::new();
    let mut matching = Vec::new();
    for _ in 0..COST_RUNS {
        nomatch.push(cost_per_packet(bin, p, UNUSED_MAC, results)?);
        matching.push(cost_per_packet(bin, p, &p.mac_a, results)?);
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
    Ok((nomatch, matching))
}

pub fn run(bin: &Path, results: &Path) -> Result<Value> {
    let p = pair()?;
    let (nomatch, matching) = program_costs(bin, &p, results)?;

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

    eprintln!("==> matching events delivered with zero lost events");
    let zero_loss = zero_loss_rate(bin, &p, results)?;

    eprintln!("==> start-up to \"attached\" on 8 interfaces (3 runs)");
    let startup = bench_startup::startup(bin, results)?;

    eprintln!("==> attach and detach: 200 interfaces in 50 namespaces");
    drop(p);
    let attach = bench_startup::attach_many(bin, results)?;

    Ok(json!({
        "tc_ns_per_packet_nonmatching": nomatch.net_ns(),
        "tc_ns_per_packet_matching": matching.net_ns(),
        "tc_cost_nonmatching": nomatch.json(),
        "tc_cost_matching": matching.json(),
        "iperf3_gbps_without": without,
        "iperf3_gbps_with": with,
        "throughput_ratio": with / without,
        "zero_loss": zero_loss,
        "startup": startup,
        "attach": attach,
    }))
}

/// Datagram rates of the ramp, per second; each datagram is two matching events (`va` egress,
/// `vb` ingress). The ramp stops at the first step with a lost event.
const RAMP_PPS: [u64; 6] = [50_000, 100_000, 200_000, 350_000, 500_000, 750_000];
/// Seconds of each ramp step.
const RAMP_SECS: f64 = 3.0;
/// Seconds the highest rate without loss is then held, as the floor asks.
const HOLD_SECS: f64 = 10.0;
/// Below this share of the asked rate, the generator (not pathtrace) is the limit.
const GENERATOR_SHORTFALL: f64 = 0.9;

/// One paced run of matching traffic under `pathtrace trace`.
struct RateRun {
    asked_pps: u64,
    sent: u64,
    achieved_pps: f64,
    events: u64,
    lost: u64,
    /// pathtrace's CPU time while the traffic ran and was drained (start-up and detach left out).
    cpu_seconds: f64,
}

impl RateRun {
    fn measure(bin: &Path, p: &Pair, results: &Path, rate: u64, secs: f64) -> Result<Self> {
        let traced = Traced::start(bin, p, &p.mac_a, &results.join("bench-capture-rate.jsonl"))?;
        let cpu_before = traced.cpu_seconds()?;
        let (sent, achieved_pps) = generate(&p.a, rate, secs)?;
        // Let the reader drain what is still in the ring.
        std::thread::sleep(Duration::from_millis(500));
        let cpu_seconds = traced.cpu_seconds()? - cpu_before;
        let summary = traced.stop()?;
        let run = Self {
            asked_pps: rate,
            sent,
            achieved_pps,
            events: summary["events"].as_u64().unwrap_or(0),
            lost: summary["lost_events"].as_u64().unwrap_or(u64::MAX),
            cpu_seconds,
        };
        eprintln!(
            "    asked {rate}/s, sent {sent} at {achieved_pps:.0}/s: {} events ({:.0}/s), {} lost, \
             {:.2} CPU s per million events",
            run.events,
            run.events_per_second(),
            run.lost,
            run.cpu_per_million()
        );
        Ok(run)
    }

    /// No event lost, and at least the sender's hop seen for every datagram (the receiver's
    /// may miss what the veth itself dropped).
    fn clean(&self) -> bool {
        self.lost == 0 && self.events >= self.sent
    }

    fn events_per_second(&self) -> f64 {
        self.events as f64 * self.achieved_pps / self.sent.max(1) as f64
    }

    fn cpu_per_million(&self) -> f64 {
        self.cpu_seconds / self.events.max(1) as f64 * 1e6
    }

    fn json(&self) -> Value {
        json!({
            "asked_pps": self.asked_pps, "sent": self.sent, "achieved_pps": self.achieved_pps,
            "events": self.events, "events_per_second": self.events_per_second(),
            "lost_events": self.lost, "cpu_seconds": self.cpu_seconds,
            "cpu_seconds_per_million_events": self.cpu_per_million(),
        })
    }
}

/// Raises the rate until an event is lost or the generator falls short, then holds the highest
/// clean rate for `HOLD_SECS`.
fn zero_loss_rate(bin: &Path, p: &Pair, results: &Path) -> Result<Value> {
    let mut ramp = Vec::new();
    let mut best: Option<u64> = None;
    let mut generator_limited = false;
    for rate in RAMP_PPS {
        let run = RateRun::measure(bin, p, results, rate, RAMP_SECS)?;
        let clean = run.clean();
        generator_limited = run.achieved_pps < rate as f64 * GENERATOR_SHORTFALL;
        ramp.push(run.json());
        if !clean {
            break;
        }
        best = Some(rate);
        if generator_limited {
            eprintln!(
                "    the generator reached {:.0}/s of {rate}/s: its limit",
                run.achieved_pps
            );
            break;
        }
    }
    let best = best.context("events were lost at the lowest rate of the ramp")?;
    eprintln!("    holding {best}/s for {HOLD_SECS} s");
    let hold = RateRun::measure(bin, p, results, best, HOLD_SECS)?;
    Ok(json!({
        "ramp": ramp,
        "generator_limited": generator_limited,
        "hold": hold.json(),
        "hold_clean": hold.clean(),
    }))
}
