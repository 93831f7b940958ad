//! `pathtrace --dhcp MAC` and `pathtrace trace --mac MAC`: discover the topology, compute the
//! expected path, attach the probes on exactly that path (plus drops and OVS), wait for the
//! packets, then correlate them with the path and say where they stopped and why.

use std::{
    cell::RefCell,
    net::IpAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use tracer_common::{
    wire::{ip_proto, DEFAULT_RING_BUFFER_BYTES},
    SNAPSHOT_MAX,
};

use super::{conclude::conclude, evidence, learn, status::Status};
use crate::{
    capture::session::{Control, OvsHooks, Session, SessionOptions},
    cli::{Cli, JourneyArgs, ReportArgs, TraceArgs},
    clock,
    event::{DhcpMessage, Hop, Sighting, Sightings, Vanished},
    interrupt,
    journey::{
        belongs::Belongs,
        mode::{expected_path, Mode},
        recording::Recording,
        report::Inputs,
    },
    kernel::{privileges, tracefs},
    mac::Mac,
    netns::NetnsTable,
    path::{Destination, ExpectedPath, HopKind},
    probes::{push_unique, AttachMode, DropHook, FilterSpec, Interface},
    topology,
};

pub struct Request {
    pub mac: Mac,
    pub mode: Mode,
    pub report: ReportArgs,
    /// `--record FILE`: the sightings and both topologies, for `pathtrace replay`.
    pub record: Option<PathBuf>,
    pub timeout: Option<Duration>,
    /// Stop after this many packets (distinct fingerprints).
    pub count: Option<u64>,
    pub discovery: topology::Options,
    pub btf: PathBuf,
    /// Extra kernel filter criteria (`trace --filter-*`); the MAC and the mode add theirs.
    pub filter: FilterSpec,
    pub tc_attach: AttachMode,
    pub drop_hook: DropHook,
    pub ovs: bool,
    pub ring_buffer_bytes: u32,
    /// `trace --dst ADDR`: where the packets go; without it, learned from the first one.
    pub dst: Option<IpAddr>,
}

impl Request {
    fn base(mac: Mac, mode: Mode, journey: &JourneyArgs) -> Self {
        Self {
            mac,
            mode,
            report: journey.report.clone(),
            record: journey.record.clone(),
            timeout: None,
            count: None,
            discovery: journey.discovery.options(),
            btf: crate::kernel::btf::VMLINUX_BTF.into(),
            filter: FilterSpec::default(),
            tc_attach: AttachMode::Auto,
            drop_hook: DropHook::Auto,
            ovs: true,
            ring_buffer_bytes: DEFAULT_RING_BUFFER_BYTES,
            dst: None,
        }
    }

    /// `pathtrace --dhcp MAC`.
    pub fn dhcp(mac: Mac, cli: &Cli) -> Self {
        Self {
            timeout: cli.timeout,
            count: cli.count,
            ..Self::base(mac, Mode::Dhcp, &cli.journey)
        }
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
        let mut report = args.journey.report.clone();
        report.json |= args.output == crate::output::Format::Json;
        Self {
            report,
            timeout: args.timeout,
            count: args.count,
            btf: args.btf.clone(),
            filter: args.filter_spec(),
            tc_attach: args.tc_attach,
            drop_hook: args.drop_hook,
            ovs: !args.no_ovs,
            ring_buffer_bytes: args.ring_buffer_size,
            dst: args.dst,
            ..Self::base(mac, mode, &args.journey)
        }
    }

    /// What the kernel keeps: the MAC's packets of this mode, their drops, and the bytes the
    /// mode needs.
    fn kernel_filter(&self) -> FilterSpec {
        let mut f = FilterSpec {
            mac: Some(self.mac),
            dhcp: self.mode == Mode::Dhcp,
            drops: true,
            snapshot_len: JOURNEY_SNAPSHOT,
            ..self.filter.clone()
        };
        match self.mode {
            // The whole BOOTP message, so the offered address and options can be decoded.
            Mode::Dhcp => f.snapshot_len = SNAPSHOT_MAX as u16,
            Mode::Icmp => f.proto = Some(ip_proto::ICMP),
            Mode::Any => {}
        }
        f
    }
}

/// Without `--timeout`, how long to wait for the packets.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes kept of a non-DHCP packet, for pcapng: its headers (Ethernet, a VLAN tag, IPv4 and
/// TCP without options, or IPv6 and ICMPv6), in the smallest record class.
const JOURNEY_SNAPSHOT: u16 = 64;
/// After the exchange completes, how long to keep collecting the last copies.
const GRACE: Duration = Duration::from_millis(300);
/// How often the status line is refreshed.
const TICK: Duration = Duration::from_millis(250);
pub fn run(req: Request) -> Result<u8> {
    privileges::require_tracing_privileges()?;
    let tracefs = tracefs::ensure_mounted();
    let discovery = Instant::now();
    let before = topology::discover(&req.discovery)?;
    let mut table = NetnsTable::discover()?;
    let mut discovery_ms = clock::ms_since(discovery);
    let (destination, timeout) = destination(&req, &before, &table)?;
    let path_start = Instant::now();
    let expected = expected_path(&before, req.mac, req.mode, destination)?;
    let interfaces = path_interfaces(&expected, &mut table)?;
    // Without --dst, the wait for the first packet is not discovery.
    discovery_ms += clock::ms_since(path_start);
    let mut filter = req.kernel_filter();
    if let (Some(d), None) = (destination, filter.host) {
        // Past a router the packets keep the destination's address, not the MAC.
        filter.host = Some(d.ip);
        filter.mac_or_host = true;
    }
    let mut session = Session::start(
        SessionOptions {
            interfaces,
            filter,
            btf: &req.btf,
            tc_attach: req.tc_attach,
            drops: Some(req.drop_hook),
            ovs: ovs_hooks(req.ovs, &expected),
            ring_buffer_bytes: req.ring_buffer_bytes,
        },
        table,
    )?;
    session.timings.discovery_ms = discovery_ms;
    if let Err(e) = &tracefs {
        tracing::info!("{e:#}");
    }
    session.announce();
    let captured = if interrupt::requested().is_some() {
        Ok(Captured::default())
    } else {
        let belongs = Belongs::new(req.mac, destination.map(|d| d.ip));
        capture(&req, &expected, (timeout, belongs), &mut session)
    };
    let hooks = session.hooks.clone();
    let timings = session.timings.clone();
    // A detach that fails (an interface whose namespace went away with it) is a warning: the
    // verdict on what was seen still stands.
    if let Err(e) = session.finish() {
        eprintln!("pathtrace: warning: cleanup: {e:#}");
    }
    let Captured {
        sightings,
        lost,
        missed_runs,
        vanished,
        complete,
    } = captured?;

    let settle = !complete && expected.hops.iter().any(|h| h.kind == HopKind::OvsBridge);
    let (after, after_capture) = evidence::collect(&req.discovery, settle, &before);
    let inputs = Inputs {
        mac: req.mac,
        mode: req.mode,
        destination,
        path: &expected,
        before: &before,
        after: &after,
        sightings,
        lost_events: lost,
        missed_runs,
        vanished,
        hooks,
        timings: Some(timings),
        after_capture,
    };
    let recording = match &req.record {
        Some(file) => Some((file.as_path(), recording(&inputs)?)),
        None => None,
    };
    conclude(inputs, &req.report, recording)
}

/// Where the packets go, for modes other than DHCP: `--dst`, else learned from the first
/// packet (see `learn`); and how much of the timeout is left.
fn destination(
    req: &Request,
    topo: &topology::Topology,
    table: &NetnsTable,
) -> Result<(Option<Destination>, Duration)> {
    let timeout = req.timeout.unwrap_or(DEFAULT_TIMEOUT);
    Ok(match (req.mode, req.dst) {
        (Mode::Dhcp, _) => (None, timeout),
        (_, Some(ip)) => (Some(Destination { ip, mac: None }), timeout),
        (_, None) => {
            let learned = learn::first_destination(
                req.mac,
                SessionOptions {
                    interfaces: Vec::new(),
                    filter: req.kernel_filter(),
                    btf: &req.btf,
                    tc_attach: req.tc_attach,
                    drops: None,
                    ovs: OvsHooks::Skip(learn::LEARN_ONLY),
                    ring_buffer_bytes: req.ring_buffer_bytes,
                },
                (topo, table),
                timeout,
            )?;
            (learned.destination, timeout.saturating_sub(learned.waited))
        }
    })
}

/// The Open vSwitch hooks only where the expected path crosses a datapath: elsewhere they
/// would only slow every packet of the host down.
fn ovs_hooks(wanted: bool, expected: &ExpectedPath) -> OvsHooks {
    if !wanted {
        OvsHooks::Skip("--no-ovs")
    } else if expected.hops.iter().any(|h| h.kind == HopKind::OvsBridge) {
        OvsHooks::Attach
    } else {
        OvsHooks::Skip("the expected path crosses no Open vSwitch bridge")
    }
}

fn recording(inputs: &Inputs<'_>) -> Result<String> {
    Recording::of(inputs).to_json()
}

/// What the capture brought back.
#[derive(Default)]
struct Captured {
    sightings: Vec<Sighting>,
    /// Every event not seen, `missed_runs` and the sightings over the cap included.
    lost: u64,
    missed_runs: u64,
    /// Traced interfaces that went away during the capture.
    vanished: Vec<Vanished>,
    /// The exchange ended (the ACK reached the VM) or `--count` packets were seen.
    complete: bool,
}

/// Collects the sightings until the exchange completes (plus a grace period), the timeout, or a
/// signal.
fn capture(
    req: &Request,
    expected: &ExpectedPath,
    (timeout, mut belongs): (Duration, Belongs),
    session: &mut Session,
) -> Result<Captured> {
    // The client's end: the first interface the kernel sees, and the direction a reply has
    // there on its way to the client (the opposite of the request's): egress on a VM's tap,
    // ingress on a pod's or container's own interface.
    let client_end = expected
        .hops
        .iter()
        .find(|h| h.kind == HopKind::Interface && h.kernel_visible)
        .and_then(|h| Some((h.netns_ino?, h.ifindex?, h.direction?.flipped())));
    // Both the record handler and the ticker update it.
    let status = RefCell::new(Status::new(
        session.hooks.iter().filter(|h| h.active).count(),
    ));
    let mut sightings = Sightings::new(Sightings::CAP);
    let mut vanished = Vec::new();
    let mut done_at: Option<Instant> = None;
    let limit = req.count.unwrap_or(u64::MAX);
    let attached_at = session.attached_at_ns;
    let pumped = session.pump(
        Some(timeout),
        TICK,
        |batch, names| {
            for rec in batch.drain(..) {
                // In flight while the hooks went on: seen at some hops only, by no fault.
                if rec.event.timestamp_ns < attached_at {
                    continue;
                }
                let hop = Hop::decode(&rec.event, None, names);
                if !belongs.keeps(&hop) {
                    continue;
                }
                status.borrow_mut().saw(&hop);
                // The exchange is complete once the ACK reaches the client's end.
                let acked = req.mode == Mode::Dhcp
                    && hop.dhcp_message() == Some(DhcpMessage::Ack)
                    && hop
                        .hook
                        .direction()
                        .is_some_and(|d| client_end == Some((hop.netns_ino, hop.ifindex, d)));
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
        |tick| {
            status.borrow_mut().tick(tick.lost, &tick.vanished);
            vanished.extend(tick.vanished);
        },
    );
    status.borrow().clear();
    let (_, losses) = pumped?;
    if sightings.overflow > 0 {
        eprintln!(
            "pathtrace: kept the first {} events; {} more are counted as lost",
            Sightings::CAP,
            sightings.overflow
        );
    }
    Ok(Captured {
        lost: losses.total() + sightings.overflow,
        missed_runs: losses.missed_runs.unwrap_or(0),
        vanished,
        sightings: sightings.into_kept(),
        complete: done_at.is_some(),
    })
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
        // A bond's other members too: whichever carries the packet is seen.
        let links = std::iter::once((ino, ifindex, h.name.as_str())).chain(
            h.alternatives
                .iter()
                .map(|a| (a.netns_ino, a.ifindex, a.name.as_str())),
        );
        for (ino, ifindex, name) in links {
            let netns = table
                .get(ino)
                .cloned()
                .with_context(|| format!("namespace of {name} vanished"))?;
            push_unique(
                &mut out,
                Interface {
                    netns,
                    name: name.to_string(),
                    ifindex,
                },
            );
        }
    }
    anyhow::ensure!(
        !out.is_empty(),
        "the expected path has no interface the kernel can see"
    );
    Ok(out)
}
