//! Which bridge's OpenFlow flow produced each Open vSwitch datapath action. A datapath flow runs
//! the actions of every bridge the packet crosses through patch ports in one go (`push_vlan 1,
//! output br-int, pop_vlan, push_vlan 1000, output eth2`), and every action event names the
//! datapath's input port; this puts each action back under its bridge: an output under the
//! bridge of its port, any other action under the bridge of the next output (or, with none,
//! the bridge of the port it came in by), an upcall under the bridge of the port it came in by. The flow is what the bridge's tables do to the packet
//! as it was seen entering that bridge.

use serde::Serialize;

use super::correlate::OrientedHop;
use crate::{
    event::{HookKind, OvsAction, Sighting},
    path::{
        openflow_sim::{self, Packet},
        HopKind,
    },
    topology::{Action, Topology},
};

/// The bridge an action belongs to, and the OpenFlow rule that decided it there.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attributed {
    pub bridge: String,
    /// The rule as dump-flows prints it; `None` when the bridge's tables were not read or no
    /// rule could be evaluated for the packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// The rule only hands the packet to NORMAL switching: it tells a reader nothing the
    /// bridge's ports do not.
    #[serde(skip)]
    pub plain_normal: bool,
}

/// The rule that decided a bridge's actions.
#[derive(Clone)]
struct Decisive {
    text: String,
    plain_normal: bool,
}

/// For each sighting (in the group's order), its attribution; `None` for hooks that are not
/// datapath actions or upcalls, and for actions whose bridge is unknown.
pub fn attribute(
    sightings: &[Sighting],
    path: &[OrientedHop<'_>],
    topo: &Topology,
    ovs_bridge_of: &dyn Fn(&str) -> Option<String>,
) -> Vec<Option<Attributed>> {
    let bridges = bridges_of(sightings, ovs_bridge_of);
    let mut flows: Vec<(String, Option<Decisive>)> = Vec::new();
    bridges
        .iter()
        .enumerate()
        .map(|(i, bridge)| {
            let bridge = bridge.clone()?;
            let flow = match flows.iter().find(|(b, _)| *b == bridge) {
                Some((_, f)) => f.clone(),
                None => {
                    let f = decisive_flow(&bridge, &sightings[..i], sightings, path, topo);
                    flows.push((bridge.clone(), f.clone()));
                    f
                }
            };
            Some(Attributed {
                bridge,
                plain_normal: flow.as_ref().is_some_and(|f| f.plain_normal),
                flow: flow.map(|f| f.text),
            })
        })
        .collect()
}

/// The bridge of every datapath action and upcall, by the rules of the module's documentation.
fn bridges_of(
    sightings: &[Sighting],
    ovs_bridge_of: &dyn Fn(&str) -> Option<String>,
) -> Vec<Option<String>> {
    let output_bridge = |s: &Sighting| {
        let ovs = s.hop.ovs.as_ref()?;
        (ovs.action == Some(OvsAction::Output))
            .then(|| ovs_bridge_of(ovs.port_name.as_deref()?))
            .flatten()
    };
    sightings
        .iter()
        .enumerate()
        .map(|(i, s)| match s.hop.hook {
            HookKind::OvsUpcall => ovs_bridge_of(&s.hop.ifname),
            HookKind::OvsAction => output_bridge(s)
                .or_else(|| {
                    sightings[i + 1..]
                        .iter()
                        .filter(|n| n.hop.hook == HookKind::OvsAction)
                        .find_map(output_bridge)
                })
                // No output follows (a `userspace` action handing the packet to a controller).
                .or_else(|| ovs_bridge_of(&s.hop.ifname)),
            _ => None,
        })
        .collect()
}

/// The rule of `bridge` that applies to the packet as it was last seen before the bridge's
/// first action (`before`), entering by the port the oriented path enters the bridge through.
fn decisive_flow(
    bridge: &str,
    before: &[Sighting],
    all: &[Sighting],
    path: &[OrientedHop<'_>],
    topo: &Topology,
) -> Option<Decisive> {
    let flows = &topo.ovs_bridges.iter().find(|b| b.name == bridge)?.flows;
    let at = path
        .iter()
        .position(|p| p.hop.kind == HopKind::OvsBridge && p.hop.name == bridge)?;
    let in_port = path[..at]
        .iter()
        .rev()
        .find_map(|h| h.hop.ovs_port.as_ref())
        .filter(|o| o.bridge == bridge)?
        .ofport?
        .to_string();
    let seen = before
        .iter()
        .rev()
        .find(|s| s.hop.hook != HookKind::Drop)
        .or(all.first())?;
    let pkt = Packet {
        src: seen.hop.src_mac,
        dst: Some(seen.hop.dst_mac),
        vlan: seen.hop.vlan_id(),
        dhcp: seen.hop.dhcp.is_some(),
        dhcp_reply: seen.hop.dhcp_message().is_some_and(|m| m.is_reply()),
        ipv4: false,
    };
    let outcome = openflow_sim::run(flows, &in_port, &pkt);
    outcome.applied.last().map(|f| Decisive {
        text: f.text.trim().to_string(),
        plain_normal: f.actions == [Action::Normal],
    })
}
