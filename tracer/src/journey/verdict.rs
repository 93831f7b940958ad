//! Why a packet stopped where it did: the evidence is checked in order of how directly it
//! names the cause (an OpenFlow drop flow that counted the packet, a kernel drop reason, a link
//! down, a frame larger than the next MTU, a VLAN tag the next port does not carry).

use serde::Serialize;

use super::correlate::{place_of, OrientedHop, PacketGroup, Progress};
use crate::{
    path::{
        fmt_vlan,
        openflow_sim::{self, Packet},
        HopKind,
    },
    topology::{
        sources::openflow::{Action, Flow},
        Topology,
    },
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Delivered,
    Stopped,
    Unseen,
}

/// Where a packet was last seen, or where it was stopped.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Place {
    pub ifname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// The hook that saw it last (`ingress`, `egress`, `ovs-receive`, ...), or `openflow` for
    /// a bridge whose flow dropped it.
    pub hook: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    pub kind: HopKind,
}

/// The expected hop that did not see the packet.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Expected {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    pub kind: HopKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub verdict: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Place>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_next: Option<Expected>,
}

impl Verdict {
    pub fn delivered() -> Self {
        Self {
            verdict: Outcome::Delivered,
            stopped_at: None,
            reason: None,
            expected_next: None,
        }
    }
}

/// Facts from before and after the trace that explain a stop.
pub struct Evidence<'a> {
    pub before: &'a Topology,
    pub after: &'a Topology,
}

pub fn judge(
    group: &PacketGroup,
    path: &[OrientedHop<'_>],
    progress: &Progress,
    ev: &Evidence<'_>,
    ovs_bridge_of: &dyn Fn(&str) -> Option<String>,
) -> Verdict {
    if progress.delivered() {
        return Verdict::delivered();
    }
    let Some(furthest) = progress.furthest else {
        return Verdict {
            verdict: Outcome::Unseen,
            stopped_at: None,
            reason: Some("no event of this packet on the expected path".into()),
            expected_next: None,
        };
    };
    let last_event = group
        .sightings
        .iter()
        .filter(|s| s.hop.hook != "drop" && place_of(s, path, ovs_bridge_of) == Some(furthest))
        .last()
        .expect("furthest has an event");
    let mut stopped_at = Place {
        ifname: if path[furthest].hop.kind == HopKind::OvsBridge {
            path[furthest].hop.name.clone()
        } else {
            last_event.hop.ifname.clone()
        },
        netns: path[furthest].hop.netns.clone(),
        hook: last_event.hop.hook.to_string(),
        direction: matches!(last_event.hop.hook, "ingress" | "egress")
            .then(|| last_event.hop.hook.to_string()),
        kind: path[furthest].hop.kind,
    };
    let mut next = furthest + 1;

    // 1. An OpenFlow flow that drops, on a bridge at or past the furthest hop, whose packet
    //    counter grew during the trace.
    let mut reason = None;
    for (i, p) in path.iter().enumerate().skip(furthest) {
        if p.hop.kind != HopKind::OvsBridge {
            continue;
        }
        // The packet as it enters this bridge: through the port of the hop before it.
        let entry = path[..i].iter().rev().find_map(|h| h.hop.ovs_port.as_ref());
        let in_port = entry
            .filter(|o| o.bridge == p.hop.name)
            .and_then(|o| o.ofport)
            .map(|n| n.to_string());
        let pkt = Packet {
            src: group.sightings[0].hop.src_mac,
            dst: Some(group.sightings[0].hop.dst_mac),
            vlan: path[i.saturating_sub(1)].hop.vlan,
            dhcp: group.sightings[0].hop.dhcp.is_some(),
        };
        if let Some(flow) = grown_drop_flow(ev, &p.hop.name, in_port.as_deref(), &pkt) {
            stopped_at = Place {
                ifname: p.hop.name.clone(),
                netns: None,
                hook: "openflow".into(),
                direction: None,
                kind: HopKind::OvsBridge,
            };
            next = i + 1;
            reason = Some(format!(
                "OpenFlow drop on {}: flow \"{}\" matched it",
                p.hop.name,
                flow.text.trim()
            ));
            break;
        }
    }
    // 2. The kernel said why it dropped it (after it was last seen making progress). A drop
    //    without a reason is kept for after the more telling evidence below.
    // The packet did not arrive, so a drop of it (or of its bridge-flood copy, which can come
    // before the bridge's own copy is delivered) is evidence whenever it happened; a drop that
    // names its reason is preferred to one that does not.
    let drops: Vec<_> = group
        .sightings
        .iter()
        .filter(|s| s.hop.hook == "drop")
        .collect();
    let drop = drops
        .iter()
        .rev()
        .find(|d| {
            !matches!(
                d.hop.drop_reason.as_deref(),
                Some("NOT_SPECIFIED" | "DEV_READY") | None
            )
        })
        .or(drops.last())
        .map(|d| {
            let name = d.hop.drop_reason.clone().unwrap_or_else(|| "?".into());
            let text = format!("kfree_skb: {name} (on {} in {})", d.hop.ifname, d.hop.netns);
            // DEV_READY is mostly a flood to a bridge's own internal port that is down: a copy
            // that was never going anywhere.
            (matches!(name.as_str(), "NOT_SPECIFIED" | "DEV_READY"), text)
        });
    if let (None, Some((false, text))) = (&reason, &drop) {
        reason = Some(text.clone());
    }
    // 3. A link on the way that is down (now, after the trace).
    if reason.is_none() {
        reason = path
            .iter()
            .skip(furthest + 1)
            .find_map(|p| link_down(ev.after, p));
    }
    // 4. A frame too large for the next interface.
    if reason.is_none() {
        let len = last_event.hop.len
            + u32::from(
                last_event
                    .hop
                    .vlan
                    .as_ref()
                    .is_some_and(|v| v.source == "accelerated"),
            ) * 4;
        reason = path
            .iter()
            .skip(furthest + 1)
            .find(|p| p.hop.kind == HopKind::Interface)
            .and_then(|p| {
                let mtu = current_mtu(ev.after, p)?;
                let tag = if last_event.hop.vlan.is_some() { 4 } else { 0 };
                (len > mtu + 14 + tag).then(|| {
                    format!(
                        "MTU: a {len}-byte frame does not fit {}'s MTU of {mtu} (largest frame {})",
                        p.hop.name,
                        mtu + 14 + tag
                    )
                })
            });
    }
    // 5. A VLAN the next access port does not carry.
    if reason.is_none() {
        let seen = last_event.hop.vlan.as_ref().map(|v| v.id);
        reason = path.iter().enumerate().skip(furthest + 1).find_map(|(i, p)| {
            let port = p.hop.ovs_port.as_ref()?;
            let tag = port.tag?;
            let bridge = port.bridge.clone();
            // Only a port the bridge sends to (the bridge comes first); entering through an
            // access port is untagged by design.
            let at = path[..i]
                .iter()
                .position(|b| b.hop.kind == HopKind::OvsBridge && b.hop.name == bridge)?;
            // ... and that the packet reached.
            if at > furthest {
                return None;
            }
            (seen != Some(tag) && p.hop.kind == HopKind::Interface).then(|| {
                format!(
                    "VLAN tag mismatch: the packet reached {bridge} tagged {} (seen at {} {}), but {} is an access port of VLAN {tag}; no flow translated {} to {tag}",
                    fmt_vlan(seen),
                    last_event.hop.ifname,
                    last_event.hop.hook,
                    p.hop.name,
                    fmt_vlan(seen),
                )
            })
        });
    }
    if reason.is_none() {
        reason = drop.map(|(_, text)| text);
    }
    // 6. What the topology itself predicted.
    if reason.is_none() {
        reason = path.iter().skip(furthest).find_map(|p| {
            p.hop
                .notes
                .iter()
                .find(|n| n.contains("drop") || n.contains("miss") || n.contains("no port"))
                .map(|n| format!("{}: {n}", p.hop.name))
        });
    }
    // A bridge right after the last sighting forwards without a hook of ours: when the cause
    // is the port it forwards to, the stop is in that bridge.
    if let (Some(r), Some(p)) = (&reason, path.get(furthest + 1)) {
        if p.hop.kind == HopKind::LinuxBridge
            && (r.starts_with("MTU") || r.starts_with("link down"))
            && stopped_at.hook != "openflow"
        {
            stopped_at = Place {
                ifname: p.hop.name.clone(),
                netns: p.hop.netns.clone(),
                hook: "forward".into(),
                direction: None,
                kind: p.hop.kind,
            };
            next = furthest + 2;
        }
    }
    let expected_next = path.get(next).map(|p| Expected {
        name: p.hop.name.clone(),
        netns: p.hop.netns.clone(),
        kind: p.hop.kind,
        direction: p.direction.map(|d| format!("{d:?}").to_lowercase()),
        vlan: p.hop.vlan,
    });
    Verdict {
        verdict: Outcome::Stopped,
        reason: Some(reason.unwrap_or_else(|| {
            format!(
                "not seen after {} {}; no drop was reported (a hook the kernel lacks, or a path the topology does not show)",
                last_event.hop.ifname, last_event.hop.hook
            )
        })),
        stopped_at: Some(stopped_at),
        expected_next,
    }
}

/// A flow of `bridge` whose actions drop and whose packet count grew between the two
/// discoveries.
/// Flows that cannot match the packet (another in_port, another VLAN or protocol) are not
/// evidence, whatever their counters did: other traffic crosses the bridge too.
fn grown_drop_flow<'a>(
    ev: &Evidence<'a>,
    bridge: &str,
    in_port: Option<&str>,
    pkt: &Packet,
) -> Option<&'a Flow> {
    let flows = |t: &'a Topology| {
        t.ovs_bridges
            .iter()
            .find(|b| b.name == bridge)
            .map(|b| b.flows.as_slice())
            .unwrap_or_default()
    };
    let before = flows(ev.before);
    flows(ev.after).iter().find(|f| {
        let drops = f.actions.iter().all(|a| *a == Action::Drop);
        let was = before
            .iter()
            .find(|b| same_flow(b, f))
            .and_then(|b| b.n_packets)
            .unwrap_or(0);
        let could_match = match in_port {
            Some(port) => openflow_sim::matches(f, port, pkt) != Some(false),
            None => {
                !f.matches.iter().any(|(k, _)| k == "in_port")
                    && openflow_sim::matches(f, "", pkt) != Some(false)
            }
        };
        drops && could_match && f.n_packets.unwrap_or(0) > was
    })
}

fn same_flow(a: &Flow, b: &Flow) -> bool {
    a.table == b.table && a.priority == b.priority && a.matches == b.matches
}

fn iface_now<'a>(t: &'a Topology, p: &OrientedHop<'_>) -> Option<&'a crate::topology::Interface> {
    let (ns, ifindex) = (p.hop.netns_ino?, p.hop.ifindex?);
    t.interfaces
        .iter()
        .find(|i| i.key.netns == ns && i.key.ifindex == ifindex)
}

fn current_mtu(t: &Topology, p: &OrientedHop<'_>) -> Option<u32> {
    iface_now(t, p).map(|i| i.mtu).or(p.hop.mtu)
}

/// "link down: qvb is lowerlayerdown (its peer qvo is down)".
fn link_down(t: &Topology, p: &OrientedHop<'_>) -> Option<String> {
    if p.hop.kind != HopKind::Interface {
        return None;
    }
    let Some(i) = iface_now(t, p) else {
        return Some(format!("link down: {} no longer exists", p.hop.name));
    };
    let up = i.admin_up && matches!(i.oper_state.as_str(), "up" | "unknown");
    if up {
        return None;
    }
    let peer = i
        .link
        .and_then(|k| t.interface(k))
        .filter(|peer| !peer.admin_up || peer.oper_state == "down");
    Some(match peer {
        Some(peer) => format!(
            "link down: {} is {} because its peer {} is down",
            i.name, i.oper_state, peer.name
        ),
        None => format!(
            "link down: {} is {}{}",
            i.name,
            i.oper_state,
            if i.admin_up {
                ""
            } else {
                " (administratively down)"
            }
        ),
    })
}
