//! The journey report: every packet with its hops and verdict, the DHCP exchange, and the
//! verdict of the whole run. Pure over recorded sightings and two topologies, so it is tested
//! on recorded event streams.

use std::net::Ipv4Addr;

use serde::Serialize;

use super::{
    correlate::{self, oriented, JourneyHop, PacketGroup, Sighting, Way},
    verdict::{self, Evidence, Expected, Outcome, Place, Verdict},
};
use crate::{
    mac::Mac,
    path::{ExpectedPath, HopKind},
    probes::HookStatus,
    topology::Topology,
};

/// What the run looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Dhcp,
    Icmp,
    Any,
}

#[derive(Debug, Serialize)]
pub struct PacketReport {
    pub fingerprint: String,
    /// `outbound` (from the MAC) or `inbound` (towards it).
    pub way: Way,
    /// e.g. "DHCP DISCOVER xid 0x5e1c0a3b", "ICMP echo request seq 1", "IPv4 UDP".
    pub summary: String,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub hops: Vec<JourneyHop>,
}

#[derive(Debug, Default, Serialize)]
pub struct DhcpMessageSeen {
    pub seen: bool,
    /// Reached the far end: the server for DISCOVER/REQUEST, the VM's tap for OFFER/ACK.
    pub delivered: bool,
}

#[derive(Debug, Serialize)]
pub struct DhcpReport {
    #[serde(rename = "DISCOVER")]
    pub discover: DhcpMessageSeen,
    #[serde(rename = "OFFER")]
    pub offer: DhcpMessageSeen,
    #[serde(rename = "REQUEST")]
    pub request: DhcpMessageSeen,
    #[serde(rename = "ACK")]
    pub ack: DhcpMessageSeen,
    /// The server that answered (its DHCP server identifier, else the reply's source).
    pub server: Option<Ipv4Addr>,
    /// `yiaddr` of the last OFFER or ACK.
    pub offered_ip: Option<Ipv4Addr>,
    /// What dnsmasq's host files reserve for this MAC.
    pub reserved_ip: Option<Ipv4Addr>,
    /// Whether the offered address is the reserved one (`None` when either is unknown).
    pub matches_host_entry: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mac: Mac,
    pub mode: Mode,
    pub verdict: Outcome,
    pub stopped_at: Option<Place>,
    pub reason: Option<String>,
    pub expected_next: Option<Expected>,
    /// What to check when nothing was seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub likely_causes: Vec<String>,
    pub packets: Vec<PacketReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<DhcpReport>,
    pub lost_events: u64,
    /// The expected path, hop names in order (the full path: `pathtrace path --output json`).
    pub expected_path: Vec<String>,
    pub hooks: Vec<HookStatus>,
}

pub struct Inputs<'a> {
    pub mac: Mac,
    pub mode: Mode,
    pub path: &'a ExpectedPath,
    pub before: &'a Topology,
    pub after: &'a Topology,
    pub sightings: Vec<Sighting>,
    pub lost_events: u64,
    pub hooks: Vec<HookStatus>,
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
    };
    let groups = correlate::group(inputs.sightings, inputs.mac);
    let mut packets = Vec::new();
    for g in &groups {
        let path = oriented(inputs.path, g.way);
        let progress = correlate::progress(g, &path, &bridge_of);
        let verdict = verdict::judge(g, &path, &progress, &evidence, &bridge_of);
        packets.push(PacketReport {
            fingerprint: g.fingerprint.clone(),
            way: g.way,
            summary: summary(g),
            verdict,
            hops: correlate::rows(g, &path, &progress, &bridge_of),
        });
    }
    let dhcp = (inputs.mode == Mode::Dhcp).then(|| dhcp_report(&groups, &packets, inputs.path));
    let mut report = Report {
        kind: "journey",
        mac: inputs.mac,
        mode: inputs.mode,
        verdict: Outcome::Unseen,
        stopped_at: None,
        reason: None,
        expected_next: None,
        likely_causes: Vec::new(),
        packets,
        dhcp,
        lost_events: inputs.lost_events,
        expected_path: inputs.path.hops.iter().map(|h| h.name.clone()).collect(),
        hooks: inputs.hooks,
    };
    overall(&mut report, inputs.path, inputs.after);
    report
}

/// The run's verdict: for DHCP, the exchange (delivered once the ACK reached the VM); else
/// the first packet that did not arrive, or delivered if all did.
fn overall(report: &mut Report, path: &ExpectedPath, after: &Topology) {
    if report.packets.is_empty() {
        report.verdict = Outcome::Unseen;
        report.reason = Some(format!(
            "no {} from or to {} was seen on the expected path",
            match report.mode {
                Mode::Dhcp => "DHCP packet",
                Mode::Icmp => "ICMP packet",
                Mode::Any => "packet",
            },
            report.mac
        ));
        report.likely_causes = vec![
            "the VM is not sending: is its DHCP client running and its NIC up (virsh domifstat, the guest console)?".into(),
            format!("the MAC is wrong: check `virsh dumpxml` for {}", report.mac),
            "the packet takes another path: check `pathtrace path --mac MAC` against `pathtrace topology`".into(),
        ];
        if report.lost_events > 0 {
            report.likely_causes.insert(
                0,
                format!(
                    "{} events were lost: raise --ring-buffer-size",
                    report.lost_events
                ),
            );
        }
        return;
    }
    let first_stop = report
        .packets
        .iter()
        .find(|p| p.verdict.verdict != Outcome::Delivered);
    if let Some(dhcp) = &report.dhcp {
        if dhcp.ack.delivered {
            report.verdict = Outcome::Delivered;
            return;
        }
        if let Some(p) = first_stop {
            let v = p.verdict.clone();
            set(report, v);
            return;
        }
        // Every packet arrived, yet the exchange did not finish: the other side is silent.
        let (silent, after_msg) = if !dhcp.offer.seen {
            ("server", "DISCOVER")
        } else if !dhcp.request.seen {
            ("client", "OFFER")
        } else {
            ("server", "REQUEST")
        };
        let v = silence(path, after, silent, after_msg);
        set(report, v);
        return;
    }
    match first_stop {
        Some(p) => {
            let v = p.verdict.clone();
            set(report, v)
        }
        None => report.verdict = Outcome::Delivered,
    }
}

fn set(report: &mut Report, v: Verdict) {
    report.verdict = v.verdict;
    report.stopped_at = v.stopped_at;
    report.reason = v.reason;
    report.expected_next = v.expected_next;
}

/// The verdict when a message arrived and the side that should answer did not.
fn silence(path: &ExpectedPath, after: &Topology, side: &str, after_msg: &str) -> Verdict {
    // A server may listen on a bridge's own interface (dnsmasq on a Linux bridge).
    let visible = |h: &&crate::path::PathHop| {
        matches!(h.kind, HopKind::Interface | HopKind::LinuxBridge) && h.kernel_visible
    };
    let (at, next) = if side == "server" {
        (
            path.hops.iter().rev().find(visible),
            path.hops
                .iter()
                .rev()
                .find(|h| h.kind == HopKind::DhcpServer),
        )
    } else {
        (path.hops.iter().find(visible), path.hops.first())
    };
    let reason = if side == "server" {
        let server = path.dhcp_server.as_ref();
        let running = server.and_then(|s| {
            after
                .dhcp_servers
                .iter()
                .find(|d| d.pid.is_some() && (d.pid == s.pid || d.netns_name == s.netns))
        });
        let reached = at.map_or("the server side".into(), |h| h.name.clone());
        match (server, running) {
            (Some(s), None) => format!(
                "no reply from the DHCP server: the {after_msg} reached {reached} but no DHCP server runs in namespace {} ({})",
                s.netns,
                match s.pid {
                    Some(pid) => format!("dnsmasq pid {pid} is gone"),
                    None => "none ran there when pathtrace started either: start the DHCP agent's dnsmasq for this network".into(),
                }
            ),
            (_, Some(d)) => format!(
                "no reply from the DHCP server: {} in {} received the {after_msg} and did not answer (check its log, host entries and ranges)",
                d.label(), d.netns_name
            ),
            (None, None) => format!("no reply from a DHCP server to the {after_msg}"),
        }
    } else {
        format!("the VM's DHCP client did not continue after the {after_msg} reached it")
    };
    Verdict {
        verdict: Outcome::Stopped,
        stopped_at: at.map(|h| Place {
            ifname: h.name.clone(),
            netns: h.netns.clone(),
            hook: "ingress".into(),
            direction: Some("ingress".into()),
            kind: h.kind,
        }),
        reason: Some(reason),
        expected_next: next.map(|h| Expected {
            name: h.name.clone(),
            netns: h.netns.clone(),
            kind: h.kind,
            direction: None,
            vlan: None,
        }),
    }
}

fn summary(g: &PacketGroup) -> String {
    let h = &g.sightings[0].hop;
    if let Some(d) = g.sightings.iter().find_map(|s| s.hop.dhcp.as_ref()) {
        return format!("DHCP {} xid {}", d.message, d.xid);
    }
    if let Some(i) = &h.icmp {
        let what = match (h.ip.as_ref().map(|ip| ip.version), i.kind) {
            (Some(4), 8) | (Some(6), 128) => "echo request",
            (Some(4), 0) | (Some(6), 129) => "echo reply",
            _ => "message",
        };
        return format!("ICMP {what} id {} seq {} ({} bytes)", i.id, i.seq, h.len);
    }
    match &h.ip {
        Some(ip) => format!(
            "IPv{} {} -> {} proto {}",
            ip.version, ip.src, ip.dst, ip.proto
        ),
        None => format!("ethertype {}", h.ethertype),
    }
}

fn dhcp_report(
    groups: &[PacketGroup],
    packets: &[PacketReport],
    path: &ExpectedPath,
) -> DhcpReport {
    let mut r = DhcpReport {
        discover: DhcpMessageSeen::default(),
        offer: DhcpMessageSeen::default(),
        request: DhcpMessageSeen::default(),
        ack: DhcpMessageSeen::default(),
        server: None,
        offered_ip: None,
        reserved_ip: path.dhcp_server.as_ref().and_then(|s| s.reserved_ip),
        matches_host_entry: None,
    };
    for (g, p) in groups.iter().zip(packets) {
        let Some(d) = g.sightings.iter().find_map(|s| s.hop.dhcp.as_ref()) else {
            continue;
        };
        let slot = match d.message.as_str() {
            "DISCOVER" => &mut r.discover,
            "OFFER" => &mut r.offer,
            "REQUEST" => &mut r.request,
            "ACK" => &mut r.ack,
            _ => continue,
        };
        slot.seen = true;
        slot.delivered |= p.verdict.verdict == Outcome::Delivered;
        if matches!(d.message.as_str(), "OFFER" | "ACK") {
            if let Some(m) = g
                .sightings
                .iter()
                .find_map(|s| super::dhcp::decode(&s.snapshot))
            {
                r.offered_ip = Some(m.yiaddr)
                    .filter(|ip| !ip.is_unspecified())
                    .or(r.offered_ip);
                r.server = m.server_id.or(r.server);
            }
            if r.server.is_none() {
                r.server = g
                    .sightings
                    .iter()
                    .find_map(|s| match s.hop.ip.as_ref()?.src {
                        std::net::IpAddr::V4(a) => Some(a),
                        _ => None,
                    });
            }
        }
    }
    r.matches_host_entry = match (r.offered_ip, r.reserved_ip) {
        (Some(o), Some(want)) => Some(o == want),
        _ => None,
    };
    r
}
