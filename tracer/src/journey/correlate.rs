//! Observed hops + expected path -> one journey per packet: every event placed on the path
//! hop it belongs to (interfaces by namespace and ifindex, OVS datapath events by the bridge of
//! their port), invisible hops (patch ports) inferred, and how far the packet got.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Hop;
use crate::{
    mac::Mac,
    path::{Direction, ExpectedPath, HopKind, PathHop},
};

/// One event as correlation needs it: the printable hop and the captured bytes.
#[derive(Clone, Debug)]
pub struct Sighting {
    pub hop: Hop,
    /// Kernel timestamp (CLOCK_MONOTONIC), for pcapng.
    pub ktime_ns: u64,
    pub snapshot: Vec<u8>,
}

/// Which way along the expected path a packet travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Way {
    /// From the MAC's owner towards the path's end (DHCP DISCOVER/REQUEST).
    Outbound,
    /// Back towards the MAC's owner (DHCP OFFER/ACK).
    Inbound,
}

/// A path hop as a packet going `way` meets it.
#[derive(Clone, Debug)]
pub struct OrientedHop<'p> {
    pub hop: &'p PathHop,
    /// The TC direction a packet going this way has here.
    pub direction: Option<Direction>,
}

/// The expected hops in the order a packet going `way` meets them.
pub fn oriented(path: &ExpectedPath, way: Way) -> Vec<OrientedHop<'_>> {
    let flip = |d: Direction| match d {
        Direction::Ingress => Direction::Egress,
        Direction::Egress => Direction::Ingress,
    };
    let mut hops: Vec<OrientedHop<'_>> = path
        .hops
        .iter()
        .map(|h| OrientedHop {
            hop: h,
            direction: match way {
                Way::Outbound => h.direction,
                Way::Inbound => h.direction.map(flip),
            },
        })
        .collect();
    if way == Way::Inbound {
        hops.reverse();
    }
    hops
}

/// Events of one packet, in time order.
#[derive(Clone, Debug)]
pub struct PacketGroup {
    pub fingerprint: String,
    pub way: Way,
    pub sightings: Vec<Sighting>,
}

/// Events of one fingerprint more than this apart are different packets (identical
/// retransmissions hash alike).
const SAME_PACKET_GAP_NS: u64 = 1_000_000_000;

/// Groups sightings per packet, in order of first appearance.
pub fn group(sightings: Vec<Sighting>, mac: Mac) -> Vec<PacketGroup> {
    let mut by_fp: BTreeMap<String, Vec<Sighting>> = BTreeMap::new();
    for s in sightings {
        by_fp.entry(s.hop.fingerprint.clone()).or_default().push(s);
    }
    let mut groups = Vec::new();
    for (fp, mut list) in by_fp {
        list.sort_by_key(|s| s.hop.t_ns);
        let mut current: Vec<Sighting> = Vec::new();
        for s in list {
            if current
                .last()
                .is_some_and(|l| s.hop.t_ns - l.hop.t_ns > SAME_PACKET_GAP_NS)
            {
                groups.push(finish_group(&fp, std::mem::take(&mut current), mac));
            }
            current.push(s);
        }
        if !current.is_empty() {
            groups.push(finish_group(&fp, current, mac));
        }
    }
    groups.sort_by_key(|g| g.sightings[0].hop.t_ns);
    groups
}

fn finish_group(fp: &str, sightings: Vec<Sighting>, mac: Mac) -> PacketGroup {
    PacketGroup {
        fingerprint: fp.to_string(),
        way: way_of(&sightings, mac),
        sightings,
    }
}

/// DHCP requests and frames from the MAC go out; replies and frames to it come back.
fn way_of(sightings: &[Sighting], mac: Mac) -> Way {
    for s in sightings {
        if let Some(d) = &s.hop.dhcp {
            return match d.message.as_str() {
                "OFFER" | "ACK" | "NAK" | "BOOTREPLY" => Way::Inbound,
                _ => Way::Outbound,
            };
        }
    }
    let from_mac = sightings.iter().any(|s| s.hop.src_mac == mac);
    if from_mac {
        Way::Outbound
    } else {
        Way::Inbound
    }
}

/// Where on the oriented path one event belongs.
pub fn place_of(
    s: &Sighting,
    path: &[OrientedHop<'_>],
    ovs_bridge_of: &dyn Fn(&str) -> Option<String>,
) -> Option<usize> {
    let h = &s.hop;
    let on_iface = || {
        path.iter().position(|p| {
            p.hop.netns_ino == Some(h.netns_ino)
                && p.hop.ifindex == Some(h.ifindex)
                && p.hop.kind != HopKind::DhcpServer
        })
    };
    if h.hook.starts_with("ovs-") {
        let port = h.ovs.as_ref().and_then(|o| o.port_name.clone());
        let bridge = match port {
            Some(p) => ovs_bridge_of(&p),
            // receive/send carry the vport's netdev: its port's bridge.
            None if h.hook != "ovs-action" && h.hook != "ovs-upcall" => ovs_bridge_of(&h.ifname),
            None => None,
        };
        if let Some(push) = h.ovs.as_ref().and_then(|o| o.push_vlan.as_ref()) {
            // A VLAN push is the work of the bridge that switches the packet in that VLAN.
            if let Some(i) = path.iter().position(|p| {
                p.hop.kind == HopKind::OvsBridge
                    && (p.hop.vlan_rewrite.as_ref().and_then(|r| r.to) == Some(push.vid)
                        || p.hop.vlan == Some(push.vid))
            }) {
                return Some(i);
            }
        }
        return bridge.and_then(|b| {
            path.iter()
                .position(|p| p.hop.kind == HopKind::OvsBridge && p.hop.name == b)
        });
    }
    on_iface()
}

/// One row of a packet's journey.
#[derive(Clone, Debug, Serialize)]
pub struct JourneyHop {
    /// 1-based, in path order.
    pub hop: usize,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// interface, linux_bridge, ovs_bridge, ovs_patch, ...
    pub kind: HopKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// ingress, egress, drop, ovs-receive, ovs-action, ovs-upcall, ovs-send; `inferred` for a
    /// hop the kernel cannot see that the packet must have crossed.
    pub hook: String,
    /// VLAN id as seen here (`None`: untagged).
    pub vlan: Option<u16>,
    /// Microseconds since the packet's first event.
    pub t_us: f64,
    pub len: u32,
    /// Index into the expected path (1-based), `None` for events off the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hop: Option<usize>,
    pub inferred: bool,
    /// What happened here in words: an OVS action, a VLAN rewrite and its flow, a drop reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How far a packet got along its oriented path.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Oriented index of the furthest hop with a (non-drop) event.
    pub furthest: Option<usize>,
    /// Oriented index of the last hop the kernel can see (where "delivered" is decided).
    pub end: Option<usize>,
}

impl Progress {
    pub fn delivered(&self) -> bool {
        matches!((self.furthest, self.end), (Some(f), Some(e)) if f >= e)
    }
}

pub fn progress(
    group: &PacketGroup,
    path: &[OrientedHop<'_>],
    ovs_bridge_of: &dyn Fn(&str) -> Option<String>,
) -> Progress {
    let end = path
        .iter()
        .rposition(|p| p.hop.kind == HopKind::Interface && p.hop.kernel_visible);
    let mut furthest = None;
    for s in &group.sightings {
        if s.hop.hook == "drop" {
            continue;
        }
        if let Some(i) = place_of(s, path, ovs_bridge_of) {
            if furthest.is_none_or(|f| i >= f) {
                furthest = Some(i);
            }
        }
    }
    Progress { furthest, end }
}

/// The rows of a journey: events on the path in path order (each hop's events in time order),
/// invisible hops the packet crossed as inferred rows, then events off the path.
pub fn rows(
    group: &PacketGroup,
    path: &[OrientedHop<'_>],
    progress: &Progress,
    ovs_bridge_of: &dyn Fn(&str) -> Option<String>,
) -> Vec<JourneyHop> {
    let t0 = group.sightings[0].hop.t_ns;
    let furthest = progress.furthest;
    let mut placed: Vec<(Option<usize>, &Sighting)> = group
        .sightings
        .iter()
        .map(|s| (place_of(s, path, ovs_bridge_of), s))
        .collect();
    placed.sort_by_key(|(i, s)| (i.unwrap_or(usize::MAX), s.hop.t_ns));
    let mut out = Vec::new();
    let mut events = placed.iter().peekable();
    for (i, p) in path.iter().enumerate() {
        let mut any = false;
        while let Some((Some(at), s)) = events.peek() {
            if *at != i {
                break;
            }
            out.push(event_row(s, Some(p), t0));
            any = true;
            events.next();
        }
        let crossed = furthest.is_some_and(|f| i < f);
        if !any && crossed && !p.hop.kernel_visible && p.hop.kind != HopKind::Vm {
            out.push(JourneyHop {
                hop: 0,
                name: p.hop.name.clone(),
                netns: p.hop.netns.clone(),
                kind: p.hop.kind,
                device: None,
                bridge: p.hop.bridge.clone(),
                hook: "inferred".into(),
                vlan: p.hop.vlan,
                t_us: f64::NAN,
                len: 0,
                path_hop: Some(p.hop.index),
                inferred: true,
                detail: p.hop.vlan_rewrite.as_ref().map(|r| {
                    format!(
                        "VLAN {} -> {} by {}",
                        crate::path::fmt_vlan(r.from),
                        crate::path::fmt_vlan(r.to),
                        r.flow
                    )
                }),
            });
        }
    }
    for (_, s) in events {
        out.push(event_row(s, None, t0));
    }
    for (n, row) in out.iter_mut().enumerate() {
        row.hop = n + 1;
        if row.t_us.is_nan() {
            row.t_us = 0.0;
        }
    }
    out
}

fn event_row(s: &Sighting, p: Option<&OrientedHop<'_>>, t0: u64) -> JourneyHop {
    let h = &s.hop;
    let mut detail = Vec::new();
    if let Some(o) = &h.ovs {
        if let Some(a) = &o.action {
            let mut text = a.clone();
            if let Some(v) = &o.push_vlan {
                text += &format!(" vid {}", v.vid);
            }
            if let Some(port) = &o.port_name {
                text += &format!(" to {port}");
            }
            detail.push(text);
        } else if let Some(u) = o.upcall {
            detail.push(format!("upcall to ovs-vswitchd ({u})"));
        }
        if let (Some(v), Some(p)) = (&o.push_vlan, p) {
            if let Some(r) = &p.hop.vlan_rewrite {
                if r.to == Some(v.vid) {
                    detail.push(format!("flow: {}", r.flow));
                }
            }
        }
    }
    if let Some(r) = &h.drop_reason {
        detail.push(format!("dropped: {r}"));
    }
    if let Some(d) = &h.dhcp {
        detail.push(format!("DHCP {} xid {}", d.message, d.xid));
    }
    JourneyHop {
        hop: 0,
        name: h.ifname.clone(),
        netns: Some(h.netns.clone()),
        kind: p.map_or(HopKind::Interface, |p| p.hop.kind),
        device: p
            .and_then(|p| p.hop.device)
            .map(|d| format!("{d:?}").to_lowercase()),
        bridge: p.and_then(|p| p.hop.bridge.clone()).or_else(|| {
            p.filter(|p| p.hop.kind == HopKind::OvsBridge)
                .map(|p| p.hop.name.clone())
        }),
        hook: h.hook.to_string(),
        vlan: h.vlan.as_ref().map(|v| v.id),
        t_us: (h.t_ns - t0) as f64 / 1e3,
        len: h.len,
        path_hop: p.map(|p| p.hop.index),
        inferred: false,
        detail: (!detail.is_empty()).then(|| detail.join("; ")),
    }
}
