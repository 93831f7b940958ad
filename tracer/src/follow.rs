//! `pathtrace --dhcp MAC` and `pathtrace trace --mac MAC`: discover the topology, compute the
//! expected path, attach the probes on exactly that path (plus drops and OVS), wait for the
//! packets, then correlate them with the path and say where they stopped and why.

use std::{
    io::IsTerminal as _,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use tracer_common::{filter_flags, Filter, SNAPSHOT_MAX};

use crate::{
    capture::session::{push_unique, Control, Session, SessionOptions},
    cli::{JourneyArgs, ReplayArgs, TraceArgs},
    journey::{
        correlate::Sighting,
        recording::Recording,
        report::{self, Inputs, Mode, Report},
        verdict::Outcome,
        Hop,
    },
    kernel::{privileges, tracefs},
    mac::Mac,
    netns::NetnsTable,
    output,
    path::{self, ExpectedPath, Goal, HopKind},
    probes::{AttachMode, DropHook, Interface},
    topology::{self, Topology},
};

pub struct Request {
    pub mac: Mac,
    pub mode: Mode,
    pub json: bool,
    pub pcap: Option<PathBuf>,
    /// `--record FILE`: the sightings and both topologies, for `pathtrace replay`.
    pub record: Option<PathBuf>,
    pub timeout: Option<f64>,
    /// Stop after this many packets (distinct fingerprints).
    pub count: Option<u64>,
    pub discovery: topology::Options,
    pub btf: PathBuf,
    /// Extra kernel filter criteria (`trace --filter-*`), merged with the MAC.
    pub filter: Filter,
    pub tc_attach: AttachMode,
    pub drop_hook: DropHook,
    pub ovs: bool,
    pub ring_buffer_bytes: u32,
}

impl Request {
    fn base(mac: Mac, mode: Mode, journey: &JourneyArgs) -> Self {
        Self {
            mac,
            mode,
            json: journey.json,
            pcap: journey.pcap.clone(),
            record: journey.record.clone(),
            timeout: None,
            count: None,
            discovery: journey.discovery.options(),
            btf: crate::kernel::btf::VMLINUX_BTF.into(),
            filter: Filter::default(),
            tc_attach: AttachMode::Auto,
            drop_hook: DropHook::Auto,
            ovs: true,
            ring_buffer_bytes: 4 << 20,
        }
    }

    /// `pathtrace --dhcp MAC`.
    pub fn dhcp(mac: Mac, journey: &JourneyArgs) -> Self {
        Self::base(mac, Mode::Dhcp, journey)
    }

    /// `pathtrace trace --mac MAC [--dhcp | --icmp | --filter-*]` without `--interface`.
    pub fn from_trace(mac: Mac, args: &TraceArgs) -> Self {
        let mode = if args.dhcp {
            Mode::Dhcp
        } else if args.icmp {
            Mode::Icmp
        } else {
            Mode::Any
        };
        let mut filter = crate::trace::build_filter(args);
        // The mode decides these below.
        filter.flags &= !(filter_flags::DHCP | filter_flags::MAC);
        Self {
            json: args.journey.json || args.output == crate::output::Format::Json,
            timeout: args.timeout,
            count: args.count,
            btf: args.btf.clone(),
            filter,
            tc_attach: args.tc_attach,
            drop_hook: args.drop_hook,
            ovs: !args.no_ovs,
            ring_buffer_bytes: args.ring_buffer_size,
            ..Self::base(mac, mode, &args.journey)
        }
    }
}

/// Without `--timeout`, how long to wait for the packets.
pub const DEFAULT_TIMEOUT_SECS: f64 = 60.0;
/// After the exchange completes, how long to keep collecting the last copies.
const GRACE: Duration = Duration::from_millis(300);
/// ovs-vswitchd's revalidators push datapath flow statistics to OpenFlow rules about twice a
/// second; the drop-flow evidence needs them.
const FLOW_STATS_SETTLE: Duration = Duration::from_millis(1200);

/// Exit status for a journey that did not arrive (stopped or unseen).
pub const EXIT_NOT_DELIVERED: u8 = 1;

pub fn run(req: Request) -> Result<u8> {
    privileges::require_tracing_privileges()?;
    let tracefs = tracefs::ensure_mounted();
    let before = topology::discover(&req.discovery)?;
    let expected = expected_path(&before, req.mac, req.mode)?;
    let mut table = NetnsTable::discover()?;
    let interfaces = path_interfaces(&expected, &mut table)?;
    let mut filter = req.filter;
    filter.flags |= filter_flags::MAC | filter_flags::DROPS;
    filter.mac = req.mac.0;
    match req.mode {
        Mode::Dhcp => {
            filter.flags |= filter_flags::DHCP;
            // The whole BOOTP message, so the offered address and options can be decoded.
            filter.snapshot_len = SNAPSHOT_MAX as u16;
        }
        Mode::Icmp => {
            filter.flags |= filter_flags::PROTO;
            filter.ip_proto = 1;
            filter.snapshot_len = 128;
        }
        Mode::Any => filter.snapshot_len = 128,
    }
    let mut session = Session::start(
        SessionOptions {
            interfaces,
            filter,
            btf: &req.btf,
            tc_attach: req.tc_attach,
            drops: Some(req.drop_hook),
            ovs: req.ovs,
            ring_buffer_bytes: req.ring_buffer_bytes,
        },
        table,
    )?;
    if let Err(e) = &tracefs {
        tracing::info!("{e:#}");
    }
    session.announce();
    let vm_end = expected
        .hops
        .iter()
        .find(|h| h.kind == HopKind::Interface && h.kernel_visible)
        .and_then(|h| Some((h.netns_ino?, h.ifindex?)));
    // Both the record handler and the ticker update it.
    let status = std::cell::RefCell::new(Status::new(
        session.hooks.iter().filter(|h| h.active).count(),
    ));
    let mut sightings: Vec<Sighting> = Vec::new();
    let mut done_at: Option<Instant> = None;
    let limit = req.count.unwrap_or(u64::MAX);
    let timeout = Duration::from_secs_f64(req.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS));
    let pumped = session.pump(
        Some(timeout),
        Duration::from_millis(250),
        |batch, names| {
            for rec in batch.drain(..) {
                let hop = Hop::from_record(&rec, names, false);
                status.borrow_mut().saw(&hop);
                // The exchange is complete once the ACK leaves towards the VM.
                let acked = req.mode == Mode::Dhcp
                    && hop.hook == "egress"
                    && hop.dhcp.as_ref().is_some_and(|d| d.message == "ACK")
                    && vm_end == Some((hop.netns_ino, hop.ifindex));
                if (acked || status.borrow().packets() >= limit) && done_at.is_none() {
                    done_at = Some(Instant::now());
                }
                sightings.push(Sighting {
                    hop,
                    ktime_ns: rec.event.timestamp_ns,
                    snapshot: rec.snapshot,
                });
            }
            if done_at.is_some_and(|t| t.elapsed() >= GRACE) {
                Control::Stop
            } else {
                Control::Continue
            }
        },
        |lost| status.borrow_mut().tick(lost),
    );
    status.borrow().clear();
    let hooks = session.hooks.clone();
    let detached = session.finish();
    let (_, lost) = pumped?;
    detached?;

    let complete = done_at.is_some();
    if !complete && expected.hops.iter().any(|h| h.kind == HopKind::OvsBridge) {
        std::thread::sleep(FLOW_STATS_SETTLE);
    }
    let rediscovered = topology::discover(&req.discovery)
        .map_err(|e| {
            tracing::warn!("rediscovery after the trace failed, using the first one: {e:#}")
        })
        .ok();
    let after = rediscovered.unwrap_or_else(|| before.clone());
    if let Some(file) = &req.record {
        Recording::new(
            req.mac,
            req.mode,
            lost,
            hooks.clone(),
            before.clone(),
            after.clone(),
            &sightings,
        )
        .write(file)?;
    }
    conclude(
        Inputs {
            mac: req.mac,
            mode: req.mode,
            path: &expected,
            before: &before,
            after: &after,
            sightings,
            lost_events: lost,
            hooks,
        },
        req.json,
        req.pcap.as_deref(),
    )
}

/// Where the packets should go: to the DHCP server for DHCP; otherwise towards the uplink,
/// and on a host without one (a lab, a network node's view) the way to the DHCP server.
pub fn expected_path(topo: &Topology, mac: Mac, mode: Mode) -> Result<ExpectedPath> {
    match mode {
        Mode::Dhcp => path::compute(topo, mac, &Goal::Dhcp),
        _ => path::compute(topo, mac, &Goal::Uplink)
            .or_else(|e| path::compute(topo, mac, &Goal::Dhcp).map_err(|_| e)),
    }
}

/// From what was seen to the printed verdict and the exit status; the same for a live run and
/// a replay.
fn conclude(inputs: Inputs<'_>, json: bool, pcap: Option<&std::path::Path>) -> Result<u8> {
    if let Some(file) = pcap {
        output::pcapng::write(file, &inputs.sightings)
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    let expected = inputs.path;
    let report = report::build(inputs);
    print(&report, expected, json)?;
    Ok(match report.verdict {
        Outcome::Delivered => 0,
        _ => EXIT_NOT_DELIVERED,
    })
}

/// `pathtrace replay FILE`.
pub fn replay(args: &ReplayArgs) -> Result<u8> {
    let rec = Recording::read(&args.file)?;
    let expected = expected_path(&rec.before, rec.mac, rec.mode)
        .context("the recorded topology has no path for the recorded MAC")?;
    conclude(
        rec.inputs(&expected, rec.sightings()?),
        args.json,
        args.pcap.as_deref(),
    )
}

fn print(report: &Report, expected: &ExpectedPath, json: bool) -> Result<()> {
    let text = if json {
        serde_json::to_string_pretty(report)? + "\n"
    } else {
        output::journey_text::render(report, expected, std::io::stdout().is_terminal())
    };
    crate::show::write_stdout(&text)
}

/// The interfaces of the expected path the kernel can see, resolved to attachable ones.
fn path_interfaces(expected: &ExpectedPath, table: &mut NetnsTable) -> Result<Vec<Interface>> {
    let mut out = Vec::new();
    for h in &expected.hops {
        if !matches!(h.kind, HopKind::Interface | HopKind::LinuxBridge) {
            continue;
        }
        let (Some(ino), Some(ifindex)) = (h.netns_ino, h.ifindex) else {
            continue;
        };
        let netns = table
            .get(ino)
            .cloned()
            .with_context(|| format!("namespace of {} vanished", h.name))?;
        push_unique(
            &mut out,
            Interface {
                netns,
                name: h.name.clone(),
                ifindex,
            },
        );
    }
    anyhow::ensure!(
        !out.is_empty(),
        "the expected path has no interface the kernel can see"
    );
    Ok(out)
}

/// The live one-line status on a terminal: hooks, packets seen, events lost.
struct Status {
    tty: bool,
    hooks: usize,
    fingerprints: std::collections::BTreeSet<String>,
    messages: Vec<String>,
    lost: u64,
    start: Instant,
}

impl Status {
    fn new(hooks: usize) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            hooks,
            fingerprints: Default::default(),
            messages: Vec::new(),
            lost: 0,
            start: Instant::now(),
        }
    }

    fn packets(&self) -> u64 {
        self.fingerprints.len() as u64
    }

    fn saw(&mut self, hop: &Hop) {
        self.fingerprints.insert(hop.fingerprint.clone());
        if let Some(d) = &hop.dhcp {
            if !self.messages.contains(&d.message) {
                self.messages.push(d.message.clone());
                if !self.tty {
                    eprintln!(
                        "pathtrace: seen {} at {} {}",
                        d.message, hop.ifname, hop.hook
                    );
                }
            }
        }
    }

    fn tick(&mut self, lost: u64) {
        if lost > self.lost && !self.tty {
            eprintln!("pathtrace: {lost} event(s) lost so far (ring buffer full)");
        }
        self.lost = lost;
        if self.tty {
            eprint!(
                "\r\x1b[Kpathtrace: {} hooks attached · {} packet(s){} · {} lost · {:.0} s",
                self.hooks,
                self.packets(),
                if self.messages.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", self.messages.join(", "))
                },
                self.lost,
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    fn clear(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}
