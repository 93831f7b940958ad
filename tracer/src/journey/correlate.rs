//! Observed hops + expected path -> one journey per packet: every event placed on the path
//! hop it belongs to (interfaces by namespace and ifindex, OVS datapath events by the bridge of
//! their port), and how far the packet got.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{
    event::{Direction, HookKind, OvsAction, Sighting, UpcallKind},
    mac::Mac,
    path::{ExpectedPath, HopKind, PathHop},
};

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
    let mut hops: Vec<OrientedHop<'_>> = path
        .hops
        .iter()
        .map(|h| OrientedHop {
            hop: h,
            direction: match way {
                Way::Outbound => h.direction,
                Way::Inbound => h.direction.map(Direction::flipped),
            },
        })
        .collect();
    if way == Way::Inbound {
        hops.reverse();
        bridges_before_their_logical_hops(&mut hops);
    }
    hops
}

/// An integration bridge runs the logical hops that follow it on the path, whichever way the
/// packet goes: reversed, they would come before it.
fn bridges_before_their_logical_hops(hops: &mut [OrientedHop<'_>]) {
    let mut i = 0;
    while i < hops.len() {
        let run = hops[i..].iter().take_while(|h| h.hop.is_logical()).count();
        let bridge = hops.get(i + run).filter(|b| {
            run > 0
                && b.hop.kind == HopKind::OvsBridge
                && hops[i].hop.bridge.as_deref() == Some(b.hop.name.as_str())
        });
        if bridge.is_some() {
            hops[i..=i + run].rotate_right(1);
        }
        i += run.max(1);
    }
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

/// How far apart two datapath events of one skb may be and still be one pass of its actions.
const SAME_PASS_NS: u64 = 10_000_000;

/// A datapath action that rewrites headers (OVN's DHCP reply swaps addresses and ports on its
/// way out) changes the packet's fingerprint between one action and the next: events before
/// such a rewrite belong to the packet it becomes, the next datapath event of the same skb.
/// `sightings` in time order; later rewrites are followed first, so a chain ends at its result.
pub fn follow_rewrites(sightings: &mut [Sighting]) {
    for i in (0..sightings.len()).rev() {
        let rewrites = sightings[i].hop.hook == HookKind::OvsAction
            && sightings[i]
                .hop
                .ovs
                .as_ref()
                .and_then(|o| o.action.as_ref())
                .is_some_and(|a| a.rewrites_headers());
        if !rewrites {
            continue;
        }
        let (t, skb) = (sightings[i].hop.t_ns, sightings[i].hop.skb.clone());
        let next = sightings[i + 1..]
            .iter()
            .take_while(|s| s.hop.t_ns.saturating_sub(t) <= SAME_PASS_NS)
            .find(|s| s.hop.skb == skb && s.hop.hook.is_ovs())
            .map(|s| s.hop.fingerprint.clone());
        if let Some(fp) = next {
            sightings[i].hop.fingerprint = fp;
        }
    }
}

/// Groups sightings per packet, in order of first appearance.
pub fn group(mut sightings: Vec<Sighting>, mac: Mac) -> Vec<PacketGroup> {
    sightings.sort_by_key(|s| s.hop.t_ns);
    follow_rewrites(&mut sightings);
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
    if let Some(m) = sightings.iter().find_map(|s| s.hop.dhcp_message()) {
        return if m.is_reply() {
            Way::Inbound
        } else {
            Way::Outbound
        };
    }
    let from_mac = sightings.iter().any(|s| s.hop.src_mac == mac);
    if from_mac {
        Way::Outbound
    } else {
        Way::Inbound
    }
}

/// Where on the oriented path one event belongs.
fn place_of(
    s: &Sighting,
    path: &[OrientedHop<'_>],
    ovs_bridge_of: &dyn Fn(&str) -> Option<String>,
) -> Option<usize> {
    let h = &s.hop;
    let on_iface = || {
        path.iter().position(|p| {
            let here = p.hop.netns_ino == Some(h.netns_ino) && p.hop.ifindex == Some(h.ifindex);
            // Another member of the hop's bond carried it.
            let instead = p
                .hop
                .alternatives
                .iter()
                .any(|a| a.netns_ino == h.netns_ino && a.ifindex == h.ifindex);
            (here || instead) && p.hop.kind != HopKind::DhcpServer
        })
    };
    if let Some(i) = to_controller(h, path, ovs_bridge_of) {
        return Some(i);
    }
    if h.hook.is_ovs() {
        let port = h.ovs.as_ref().and_then(|o| o.port_name.clone());
        let bridge = match port {
            Some(p) => ovs_bridge_of(&p),
            // receive/send carry the vport's netdev: its port's bridge.
            None if h.hook.is_ovs_vport() => ovs_bridge_of(&h.ifname),
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
    on_iface().or_else(|| {
        // A drop before the packet had a device (a locally made reply dropped at the output
        // hook has none yet): where the path is in that namespace.
        (h.hook == HookKind::Drop).then(|| {
            path.iter()
                .position(|p| p.hop.netns_ino == Some(h.netns_ino) && p.hop.kernel_visible)
        })?
    })
}

/// A datapath `userspace` action (and its upcall) on a bridge whose flows hand the packet to a
/// DHCP server (ovn-controller): the packet reached that server. Its oriented index.
fn to_controller(
    h: &crate::event::Hop,
    path: &[OrientedHop<'_>],
    ovs_bridge_of: &dyn Fn(&str) -> Option<String>,
) -> Option<usize> {
    let ovs = h.ovs.as_ref()?;
    let handed_over = match h.hook {
        HookKind::OvsAction => ovs.action == Some(OvsAction::Userspace),
        HookKind::OvsUpcall => ovs.upcall == Some(UpcallKind::Action),
        _ => false,
    };
    if !handed_over {
        return None;
    }
    let bridge = ovs_bridge_of(&h.ifname)?;
    path.iter()
        .position(|p| p.hop.kind == HopKind::DhcpServer && p.hop.bridge.as_ref() == Some(&bridge))
}

/// How far a packet got along its oriented path.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Oriented index of the furthest hop with a (non-drop) event.
    pub furthest: Option<usize>,
    /// Oriented index of the last hop the kernel can see (where "delivered" is decided).
    pub end: Option<usize>,
    /// Where on the oriented path each sighting of the group belongs (in the group's order),
    /// placed once for the verdict, the rows and the attribution to read.
    pub places: Vec<Option<usize>>,
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
    // A server the kernel hands packets to through a bridge's flows is seen being reached.
    let end = path.iter().rposition(|p| {
        (p.hop.kind == HopKind::Interface && p.hop.kernel_visible)
            || (p.hop.kind == HopKind::DhcpServer && p.hop.bridge.is_some())
    });
    let places: Vec<Option<usize>> = group
        .sightings
        .iter()
        .map(|s| place_of(s, path, ovs_bridge_of))
        .collect();
    let furthest = group
        .sightings
        .iter()
        .zip(&places)
        .filter(|(s, _)| s.hop.hook != HookKind::Drop)
        .filter_map(|(_, p)| *p)
        .max();
    Progress {
        furthest,
        end,
        places,
    }
}
