//! The journey report: every packet with its hops and verdict, the DHCP exchange, and the
//! verdict of the whole run. Pure over recorded sightings and two topologies, so it is tested
//! on recorded event streams.

use serde::Serialize;
use tracer_common::wire::{icmp_type, ip_proto};

use super::{
    after_capture::AfterCapture,
    attribute, benign,
    correlate::{self, oriented, OrientedHop, PacketGroup, Progress, Way},
    dhcp_report::{self, DhcpReport},
    mode::{Mode, Unplaced},
    rows::{self, JourneyHop, Judged},
    tcp::{self, TcpFlag},
    verdict::{self, silence, Cause, Evidence, Expected, Outcome, Place, Seen, StopHook, Verdict},
};
use crate::{
    event::{HookKind, HookStatus, Sighting, Timings, Vanished},
    mac::Mac,
    path::{Destination, ExpectedPath},
    topology::Topology,
};

#[derive(Debug, Serialize)]
pub struct PacketReport {
    pub fingerprint: String,
    /// `outbound` (from the MAC) or `inbound` (towards it).
    pub way: Way,
    /// e.g. "DHCP DISCOVER xid 0x5e1c0a3b", "ICMP echo request seq 1", "TCP ... [SYN]".
    pub summary: String,
    /// A TCP segment's flags, when its bytes were captured (a SYN answered by a RST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<Vec<TcpFlag>>,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub hops: Vec<JourneyHop>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mac: Mac,
    pub mode: Mode,
    /// Where the packets were going: given with `--dst`, or learned from the first packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    pub verdict: Outcome,
    pub stopped_at: Option<Place>,
    /// The cause in words.
    pub reason: Option<String>,
    /// The cause as data: `kind` and the facts that name it.
    pub cause: Option<Cause>,
    pub expected_next: Option<Expected>,
    /// What to check when nothing was seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub likely_causes: Vec<String>,
    pub packets: Vec<PacketReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<DhcpReport>,
    /// Every event not seen, whatever the reason (`missed_runs` included).
    pub lost_events: u64,
    /// Of `lost_events`, runs of the probes the kernel skipped: another BPF program was running
    /// on that CPU, and a packet passed the hook unseen.
    #[serde(skip_serializing_if = "is_zero")]
    pub missed_runs: u64,
    /// Traced interfaces that went away during the trace, when each was found gone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vanished: Vec<Vanished>,
    /// The facts after the capture (flow counters, links, servers): shown only when they
    /// were not read, as the verdict lacks them.
    #[serde(skip_serializing_if = "AfterCapture::was_read")]
    pub after_capture: AfterCapture,
    /// The expected path, hop names in order (the full path: `pathtrace path --output json`).
    pub expected_path: Vec<String>,
    pub hooks: Vec<HookStatus>,
    /// Where the start-up time went (not kept in recordings: a replay has no start-up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<Timings>,
}

pub struct Inputs<'a> {
    pub mac: Mac,
    pub mode: Mode,
    /// Where the packets were going (given or learned), for modes other than DHCP.
    pub destination: Option<Destination>,
    pub path: &'a ExpectedPath,
    pub before: &'a Topology,
    pub after: &'a Topology,
    pub sightings: Vec<Sighting>,
    pub lost_events: u64,
    /// Of `lost_events`, probe runs the kernel skipped.
    pub missed_runs: u64,
    /// Traced interfaces that went away during the capture.
    pub vanished: Vec<Vanished>,
    pub hooks: Vec<HookStatus>,
    pub timings: Option<Timings>,
    /// Whether `after` was read after the capture.
    pub after_capture: AfterCapture,
    /// The destination has no path on this host: `path` ends where the packets were seen
    /// farthest (see `mode::plan`).
    pub unplaced: Option<Unplaced>,
}

/// The bridge an OVS port (or its netdev) belongs to, by name.
pub fn ovs_bridge_lookup(topo: &Topology) -> impl Fn(&str) -> Option<String> + '_ {
    move |port: &str| {
        topo.ovs_bridges
            .iter()
            .find(|b| {
                b.ports
                    .iter()
                    .any(|p| p.name == port || p.interfaces.iter().any(|i| i.name == port))
            })
            .map(|b| b.name.clone())
    }
}

pub fn build(inputs: Inputs<'_>) -> Report {
    let bridge_of = ovs_bridge_lookup(inputs.before);
    let evidence = Evidence {
        before: inputs.before,
        after: inputs.after,
        vanished: &inputs.vanished,
        after_capture: inputs.after_capture,
    };
    let groups = correlate::group(inputs.sightings, inputs.mac);
    let mut packets = Vec::new();
    for g in &groups {
        let path = oriented(inputs.path, g.way);
        let progress = correlate::progress(g, &path, &bridge_of);
        let verdict = verdict::judge(g, &path, &progress, &evidence);
        let judged = judge_sightings(g, &path, &progress, &verdict, inputs.before, &bridge_of);
        packets.push(PacketReport {
            fingerprint: g.fingerprint.clone(),
            way: g.way,
            summary: summary(g),
            tcp_flags: tcp::flags(&g.sightings),
            hops: rows::rows(g, &path, &progress, &judged),
            verdict,
        });
    }
    let dhcp = (inputs.mode == Mode::Dhcp).then(|| {
        let judged = groups.iter().zip(packets.iter().map(|p| p.verdict.verdict));
        dhcp_report::build(judged, inputs.path)
    });
    let mut report = Report {
        kind: "journey",
        mac: inputs.mac,
        mode: inputs.mode,
        destination: inputs.destination,
        verdict: Outcome::Unseen,
        stopped_at: None,
        reason: None,
        cause: None,
        expected_next: None,
        likely_causes: Vec::new(),
        packets,
        dhcp,
        lost_events: inputs.lost_events,
        missed_runs: inputs.missed_runs,
        vanished: inputs.vanished.clone(),
        after_capture: inputs.after_capture,
        expected_path: inputs.path.hops.iter().map(|h| h.name.clone()).collect(),
        hooks: inputs.hooks,
        timings: inputs.timings,
    };
    overall(&mut report, inputs.path, inputs.after);
    if let Some(u) = inputs.unplaced {
        unplaced(&mut report, inputs.path, u);
    }
    report
}

/// The run's verdict when its destination has no path here: stopped where the packets were
/// seen farthest from the sender, the path's last hop.
fn unplaced(report: &mut Report, path: &ExpectedPath, u: Unplaced) {
    let Some(last) = path.hops.last() else {
        return;
    };
    // The hook that saw them there last (nothing seen at all keeps its own verdict).
    let Some(hook) = report
        .packets
        .iter()
        .flat_map(|p| &p.hops)
        .filter(|h| h.path_hop == Some(last.index) && h.hook != HookKind::Drop && !h.inferred)
        .map(|h| h.hook)
        .next_back()
    else {
        return;
    };
    let cause = Cause::DestinationUnplaced {
        ip: u.ip,
        unresolved: u.why,
        last_at: last.name.clone(),
    };
    report.verdict = Outcome::Stopped;
    report.stopped_at = Some(Place {
        ifname: last.name.clone(),
        netns: last.netns.clone(),
        hook: StopHook::Seen(hook),
        direction: hook.direction(),
        kind: last.kind,
    });
    report.reason = Some(cause.to_string());
    report.cause = Some(cause);
    report.expected_next = None;
}

/// The run's verdict: for DHCP, the exchange (delivered once the ACK reached the VM); else
/// the first packet that did not arrive, or delivered if all did.
fn overall(report: &mut Report, path: &ExpectedPath, after: &Topology) {
    if report.packets.is_empty() {
        nothing_seen(report);
        return;
    }
    let first_stop = report
        .packets
        .iter()
        .find(|p| p.verdict.verdict != Outcome::Delivered)
        .map(|p| p.verdict.clone());
    let v = match (&report.dhcp, first_stop) {
        (Some(dhcp), _) if dhcp.ack.delivered => Verdict::delivered(),
        (_, Some(stop)) => stop,
        // Every packet arrived, yet the exchange did not finish: the other side is silent.
        (Some(dhcp), None) => {
            let (side, after_msg) = silence::who_is_silent(dhcp.offer.seen, dhcp.request.seen);
            silence::verdict(path, after, side, after_msg)
        }
        (None, None) => Verdict::delivered(),
    };
    report.verdict = v.verdict;
    report.stopped_at = v.stopped_at;
    report.reason = v.reason;
    report.cause = v.cause;
    report.expected_next = v.expected_next;
}

/// Each sighting's bridge (for datapath actions) and benign class (for drops).
fn judge_sightings(
    g: &PacketGroup,
    path: &[OrientedHop<'_>],
    progress: &Progress,
    verdict: &Verdict,
    topo: &Topology,
    bridge_of: &dyn Fn(&str) -> Option<String>,
) -> Vec<Judged> {
    let delivered_at = progress
        .end
        .filter(|_| progress.delivered())
        .and_then(|end| {
            g.sightings
                .iter()
                .zip(&progress.places)
                .filter(|(s, at)| s.hop.hook != HookKind::Drop && at.is_some_and(|i| i >= end))
                .map(|(s, _)| s.hop.t_ns)
                .min()
        });
    let attributed = attribute::attribute(&g.sightings, path, topo, bridge_of);
    let benign = benign::classify(&g.sightings, path, delivered_at, |s| {
        explains(s, verdict.cause.as_ref())
    });
    attributed
        .into_iter()
        .zip(benign)
        .map(|(attributed, benign)| Judged { attributed, benign })
        .collect()
}

/// Whether `s` is the drop the verdict names as the cause.
fn explains(s: &Sighting, cause: Option<&Cause>) -> bool {
    match cause {
        Some(Cause::KernelDrop {
            reason,
            ifname,
            netns,
        }) => *reason == s.hop.drop_reason && *ifname == s.hop.ifname && *netns == s.hop.netns,
        _ => false,
    }
}

fn nothing_seen(report: &mut Report) {
    let cause = Cause::NothingSeen {
        what: match report.mode {
            Mode::Dhcp => Seen::DhcpPacket,
            Mode::Icmp => Seen::IcmpPacket,
            Mode::Any => Seen::Packet,
        },
        mac: report.mac,
    };
    report.verdict = Outcome::Unseen;
    report.reason = Some(cause.to_string());
    report.cause = Some(cause);
    report.likely_causes = vec![
        "the VM is not sending: is its DHCP client running and its NIC up (virsh domifstat, the guest console)?".into(),
        format!("the MAC is wrong: check `virsh dumpxml` for {}", report.mac),
        "the packet takes another path: check `pathtrace path --mac MAC` against `pathtrace topology`".into(),
    ];
    if report.lost_events > 0 {
        report.likely_causes.insert(
            0,
            format!(
                "{} events were lost: {}",
                report.lost_events,
                report.why_lost()
            ),
        );
    }
}

fn summary(g: &PacketGroup) -> String {
    let h = &g.sightings[0].hop;
    if let Some(d) = g.sightings.iter().find_map(|s| s.hop.dhcp.as_ref()) {
        return format!("DHCP {} xid {}", d.message, d.xid);
    }
    if let Some(i) = &h.icmp {
        let error = match (h.ip.as_ref().map(|ip| ip.version), i.kind) {
            (Some(4), icmp_type::DEST_UNREACHABLE) | (Some(6), icmp_type::V6_DEST_UNREACHABLE) => {
                Some("destination unreachable")
            }
            (Some(4), icmp_type::TIME_EXCEEDED) | (Some(6), icmp_type::V6_TIME_EXCEEDED) => {
                Some("time exceeded")
            }
            (Some(6), icmp_type::V6_PACKET_TOO_BIG) => Some("packet too big"),
            _ => None,
        };
        // An error names who sent it: the hop that refused the packet.
        if let (Some(what), Some(ip)) = (error, &h.ip) {
            return format!(
                "ICMP {what} (code {}) from {} to {}",
                i.code, ip.src, ip.dst
            );
        }
        let what = match (h.ip.as_ref().map(|ip| ip.version), i.kind) {
            (Some(4), icmp_type::ECHO_REQUEST) | (Some(6), icmp_type::V6_ECHO_REQUEST) => {
                "echo request"
            }
            (Some(4), icmp_type::ECHO_REPLY) | (Some(6), icmp_type::V6_ECHO_REPLY) => "echo reply",
            _ => "message",
        };
        return format!("ICMP {what} id {} seq {} ({} bytes)", i.id, i.seq, h.len);
    }
    match &h.ip {
        Some(ip) if ip.proto == ip_proto::TCP => {
            let flags = tcp::flags(&g.sightings)
                .map(|f| {
                    let names: Vec<&str> = f.iter().map(|f| f.as_str()).collect();
                    format!(" [{}]", names.join(", "))
                })
                .unwrap_or_default();
            format!(
                "TCP {}:{} -> {}:{}{flags}",
                ip.src,
                ip.sport.unwrap_or_default(),
                ip.dst,
                ip.dport.unwrap_or_default()
            )
        }
        Some(ip) => format!(
            "IPv{} {} -> {} proto {}",
            ip.version, ip.src, ip.dst, ip.proto
        ),
        None => format!("ethertype {}", h.ethertype),
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Report {
    /// Why events were lost, and what to do about it.
    pub fn why_lost(&self) -> String {
        let ring = self.lost_events.saturating_sub(self.missed_runs);
        match (ring, self.missed_runs) {
            (_, 0) => "the ring buffer was full: raise --ring-buffer-size".into(),
            (0, m) => format!(
                "the kernel skipped {m} probe run(s) while another BPF program ran on that CPU"
            ),
            (r, m) => format!(
                "{r} with the ring buffer full (raise --ring-buffer-size), {m} probe run(s) \
                 skipped by the kernel while another BPF program ran on that CPU"
            ),
        }
    }
}
