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

use super::{conclude::conclude, evidence, status::Status};
use crate::{
    capture::session::{Control, OvsHooks, Session, SessionOptions},
    cli::{Cli, JourneyArgs, ReportArgs, TraceArgs},
    clock,
    event::{DhcpMessage, Direction, Hop, Sighting, Sightings, Vanished},
    interrupt,
    journey::{
        belongs::Belongs,
        learned,
        mode::{self, Mode, Watch},
        recording::Recording,
        report::Inputs,
    },
    kernel::{privileges, tracefs},
    mac::Mac,
    netns::NetnsTable,
    path::{reach::Reach, Destination, ExpectedPath, HopKind},
    probes::{push_unique, AttachMode, DropHook, FilterSpec, Interface},
    shown::shown,
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
    /// mode needs. Past a router the packets keep their addresses, not the MAC: the
    /// destination's when given, else the sender's own, which the probes learn from its first
    /// packet when what is watched is the MAC's whole reach.
    fn kernel_filter(&self, watch: &Watch) -> FilterSpec {
        let mut f = FilterSpec {
            mac: Some(self.mac),
            dhcp: self.mode == Mode::Dhcp,
            drops: true,
            snapshot_len: JOURNEY_SNAPSHOT,
            ..self.filter.clone()
        };
        if let (Some(ip), None) = (self.dst, f.host) {
            f.host = Some(ip);
            f.mac_or_host = true;
        }
        f.learn_sender = matches!(watch, Watch::Reach(_)) && self.mode != Mode::Dhcp;
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
    let given = req.dst.map(|ip| Destination { ip, mac: None });
    let watch = Watch::of(&before, req.mac, req.mode, given)?;
    let interfaces = watched_interfaces(&watch, &mut table)?;
    let discovery_ms = clock::ms_since(discovery);
    let mut session = Session::start(
        SessionOptions {
            interfaces,
            filter: req.kernel_filter(&watch),
            btf: &req.btf,
            tc_attach: attach_mode(req.tc_attach, &watch),
            drops: Some(req.drop_hook),
            ovs: ovs_hooks(req.ovs, &watch),
            ring_buffer_bytes: req.ring_buffer_bytes,
        },
        table,
    )?;
    session.timings.discovery_ms = discovery_ms;
    if let Err(e) = &tracefs {
        tracing::info!("{e:#}");
    }
    session.announce();
    if let Watch::Reach(r) = &watch {
        announce_reach(r);
    }
    let captured = if interrupt::requested().is_some() {
        Ok(Captured::default())
    } else {
        let belongs = Belongs::new(req.mac, given.map(|d| d.ip));
        capture(&req, client_end(&watch), belongs, &mut session)
    };
    let hooks = session.hooks.clone();
    let timings = session.timings.clone();
    let attached: Vec<(u32, u32)> = session
        .interfaces
        .iter()
        .map(|i| (i.netns.ino, i.ifindex))
        .collect();
    // A detach that fails (an interface whose namespace went away with it) is a warning: the
    // verdict on what was seen still stands.
    if let Err(e) = session.finish() {
        eprintln!("pathtrace: warning: cleanup: {e:#}");
    }
    let Captured {
        mut sightings,
        lost,
        missed_runs,
        vanished,
        complete,
    } = captured?;
    // Without --dst, the first packet said where they go.
    let destination = match req.mode {
        Mode::Dhcp => None,
        _ => given.or_else(|| learned::destination(&sightings, req.mac)),
    };
    if given.is_none() {
        // Past a router, only the MAC's own address pair with that destination is its traffic.
        let mut belongs = Belongs::new(req.mac, destination.map(|d| d.ip));
        sightings.sort_by_key(|s| s.ktime_ns);
        sightings.retain(|s| belongs.keeps(&s.hop));
    }
    let plan = mode::plan(&before, req.mac, req.mode, destination, &sightings)?;
    warn_unwatched(&plan.path, &attached, destination);
    // A DHCP exchange that completed was delivered: no flow counter is needed to judge it.
    let delivered = complete && req.mode == Mode::Dhcp;
    let settle = !delivered && plan.path.hops.iter().any(|h| h.kind == HopKind::OvsBridge);
    let (after, after_capture) = evidence::collect(&req.discovery, settle, &before);
    let inputs = Inputs {
        mac: req.mac,
        mode: req.mode,
        destination,
        path: &plan.path,
        before: &before,
        after: &after,
        sightings,
        lost_events: lost,
        missed_runs,
        vanished,
        hooks,
        timings: Some(timings),
        after_capture,
        unplaced: plan.unplaced,
    };
    let recording = match &req.record {
        Some(file) => Some((file.as_path(), recording(&inputs)?)),
        None => None,
    };
    conclude(inputs, &req.report, recording)
}

/// The reach attached to, on stderr: what the first packet can cross before it says where it
/// goes.
fn announce_reach(r: &Reach) {
    let routers = r.domains.iter().filter(|d| d.via.is_some()).count();
    eprintln!(
        "pathtrace: no --dst: watching where a frame from {} can go ({} link(s) in {} layer-2 domain(s), {routers} router(s) on the way{}); its first packet says where it goes",
        r.mac,
        r.links().count(),
        r.domains.len(),
        r.truncated
            .as_ref()
            .map(|t| format!("; bounded: {t}"))
            .unwrap_or_default()
    );
}

/// Says which links of the path learned from the first packet were not watched (a reach cut
/// short by its bound): nothing was seen there, by no fault of the packet.
fn warn_unwatched(path: &ExpectedPath, attached: &[(u32, u32)], dst: Option<Destination>) {
    let missing: Vec<String> = path
        .hops
        .iter()
        .filter(|h| matches!(h.kind, HopKind::Interface | HopKind::LinuxBridge) && h.kernel_visible)
        .filter_map(|h| Some((h.netns_ino?, h.ifindex?, h)))
        .filter(|(ino, ifindex, _)| !attached.contains(&(*ino, *ifindex)))
        .map(|(_, _, h)| shown(&h.name))
        .collect();
    if let (false, Some(d)) = (missing.is_empty(), dst) {
        eprintln!(
            "pathtrace: warning: the path to {} crosses {} link(s) that were not watched (beyond the reach's bound): {}",
            d.ip,
            missing.len(),
            missing.join(", ")
        );
    }
}

/// The Open vSwitch hooks only where what is watched crosses a datapath: elsewhere they would
/// only slow every packet of the host down.
fn ovs_hooks(wanted: bool, watch: &Watch) -> OvsHooks {
    if !wanted {
        OvsHooks::Skip("--no-ovs")
    } else if watch.crosses_ovs() {
        OvsHooks::Attach
    } else {
        OvsHooks::Skip("the expected path crosses no Open vSwitch bridge")
    }
}

/// How the TC programs are attached: as asked, except that `auto` attaches a MAC's whole reach
/// (watched for its first packet) with netlink filters. Each tcx attach and detach holds RTNL
/// across an RCU grace period (~10 ms a hook measured here), so a reach of a dozen links took a
/// third longer to start than the expected path of `--dhcp`; netlink attaches it in 2 ms.
fn attach_mode(asked: AttachMode, watch: &Watch) -> AttachMode {
    match (asked, watch) {
        (AttachMode::Auto, Watch::Reach(_)) => AttachMode::Netlink,
        _ => asked,
    }
}

/// The client's end of a DHCP path: the first interface the kernel sees, and the direction a
/// reply has there on its way to the client (the opposite of the request's): egress on a VM's
/// tap, ingress on a pod's or container's own interface.
fn client_end(watch: &Watch) -> Option<(u32, u32, Direction)> {
    let Watch::Path(expected) = watch else {
        return None;
    };
    expected
        .hops
        .iter()
        .find(|h| h.kind == HopKind::Interface && h.kernel_visible)
        .and_then(|h| Some((h.netns_ino?, h.ifindex?, h.direction?.flipped())))
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
    client_end: Option<(u32, u32, Direction)>,
    mut belongs: Belongs,
    session: &mut Session,
) -> Result<Captured> {
    let timeout = req.timeout.unwrap_or(DEFAULT_TIMEOUT);
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

/// What `watch` covers that the kernel can see, resolved to attachable interfaces.
fn watched_interfaces(watch: &Watch, table: &mut NetnsTable) -> Result<Vec<Interface>> {
    let links: Vec<(u32, u32, &str)> = match watch {
        Watch::Path(expected) => path_links(expected),
        Watch::Reach(r) => r
            .links()
            .map(|l| (l.key.netns, l.key.ifindex, l.name.as_str()))
            .collect(),
    };
    let mut out = Vec::new();
    for (ino, ifindex, name) in links {
        let netns = table
            .get(ino)
            .cloned()
            .with_context(|| format!("namespace of {} vanished", shown(name)))?;
        push_unique(
            &mut out,
            Interface {
                netns,
                name: name.to_string(),
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

/// The links of the expected path the kernel can see, a bond's other members included:
/// whichever carries the packet is seen.
fn path_links(expected: &ExpectedPath) -> Vec<(u32, u32, &str)> {
    let mut out = Vec::new();
    for h in &expected.hops {
        if !matches!(h.kind, HopKind::Interface | HopKind::LinuxBridge) {
            continue;
        }
        let (Some(ino), Some(ifindex)) = (h.netns_ino, h.ifindex) else {
            continue;
        };
        out.push((ino, ifindex, h.name.as_str()));
        out.extend(
            h.alternatives
                .iter()
                .map(|a| (a.netns_ino, a.ifindex, a.name.as_str())),
        );
    }
    out
}
