//! A kernel link on the path (and a Linux bridge's own interface): its TC direction, the VLAN
//! a VLAN sub-interface adds or removes, its link state and MTU.

use super::{
    bridge_vlan::{self, Crossing},
    walk::{Carried, Step, Visit},
    Direction, Note, PathHop,
};
use crate::topology::{graph::Node, IfaceKey, LinkKind, Topology};

pub fn visit(
    topo: &Topology,
    k: IfaceKey,
    step: Step,
    carried: &mut Carried,
    hop: &mut PathHop,
) -> Visit {
    let Some(iface) = topo.interface(k) else {
        return Visit::Skip;
    };
    hop.name = iface.name.clone();
    hop.netns = Some(iface.netns_name.clone());
    hop.netns_ino = Some(k.netns);
    hop.ifindex = Some(k.ifindex);
    hop.device = Some(iface.kind);
    hop.mtu = Some(iface.mtu);
    hop.oper_state = Some(iface.oper_state);
    let mut blocked = false;
    if iface.kind == LinkKind::Bridge && super::linux_bridge::is_port_of(topo, step.prev, k) {
        super::linux_bridge::visit(step, hop);
        if hop.notes.contains(&Note::DeliveredToBridge) {
            // Up the bridge's own interface: it is a port of itself.
            blocked |= bridge_vlan::filter(iface, iface, Crossing::Leaving, carried, hop);
        }
    } else {
        if let Some(bridge) = bridge_vlan::bridge_of(topo, iface) {
            let via_bridge = |n: Option<Node>| n == iface.master.map(Node::Iface);
            if via_bridge(step.next) {
                blocked |= bridge_vlan::filter(bridge, iface, Crossing::Entering, carried, hop);
            } else if via_bridge(step.prev) {
                blocked |= bridge_vlan::filter(bridge, iface, Crossing::Leaving, carried, hop);
            }
        }
        hop.direction = Some(direction(topo, step, k));
        hop.bridge = iface
            .master
            .and_then(|m| topo.interface(m))
            .filter(|m| m.kind == LinkKind::Bridge)
            .map(|m| m.name.clone());
        if iface.kind == LinkKind::Vlan {
            blocked |= vlan_device(iface.link, iface.vlan_id, step, carried, hop);
        }
        if let Some((b, p)) = [step.prev, step.next]
            .into_iter()
            .flatten()
            .find_map(|n| match n {
                Node::OvsPort(b, p) => Some((b, p)),
                _ => None,
            })
        {
            hop.ovs_port = Some(super::ovs_bridge::port_info(topo, b, p));
            hop.bridge = Some(topo.ovs_bridges[b].name.clone());
        }
    }
    super::bond::visit(topo, k, [step.prev, step.next], hop);
    blocked |= link_state(iface, hop);
    mtu(iface, carried, hop);
    if blocked {
        Visit::Blocked
    } else {
        Visit::Pass
    }
}

/// VLAN sub-interfaces tag on the way down and untag on the way up; true if the packet going
/// up carries another VLAN than the device's.
fn vlan_device(
    lower: Option<IfaceKey>,
    vid: Option<u16>,
    step: Step,
    carried: &mut Carried,
    hop: &mut PathHop,
) -> bool {
    match (step.prev, step.next) {
        (_, Some(Node::Iface(l))) if Some(l) == lower => {
            carried.pkt.vlan = vid;
            false
        }
        (Some(Node::Iface(l)), _) if Some(l) == lower => {
            let mismatch = carried.pkt.vlan != vid;
            if mismatch {
                hop.notes.push(Note::VlanDeviceMismatch {
                    device: vid,
                    packet: carried.pkt.vlan,
                });
            }
            carried.pkt.vlan = None;
            hop.vlan = None;
            mismatch
        }
        _ => false,
    }
}

/// Notes a link that is down; true if it blocks the packet.
fn link_state(iface: &crate::topology::Interface, hop: &mut PathHop) -> bool {
    let oper_down = iface.oper_state.is_down();
    if !iface.admin_up {
        hop.notes.push(Note::AdminDown);
        true
    } else if oper_down && iface.kind != LinkKind::Bridge {
        hop.notes.push(Note::OperDown {
            state: iface.oper_state,
        });
        true
    } else {
        if oper_down {
            // A bridge without carrier still forwards between its ports.
            hop.notes.push(Note::BridgeNoCarrier);
        }
        false
    }
}

/// Notes an MTU lower than an earlier hop's. A bridge's own MTU only limits what it sends
/// itself; forwarded frames are limited by the egress port.
fn mtu(iface: &crate::topology::Interface, carried: &mut Carried, hop: &mut PathHop) {
    if iface.kind == LinkKind::Bridge {
        return;
    }
    if let Some((earlier, at)) = &carried.last_mtu {
        if iface.mtu < *earlier {
            hop.notes.push(Note::MtuLower {
                mtu: iface.mtu,
                earlier: *earlier,
                at: at.clone(),
            });
        }
    }
    carried.last_mtu = Some((iface.mtu, format!("{}:{}", iface.netns_name, iface.name)));
}

/// How the TC hooks of interface `k` see the packet, given where it comes from and goes to.
fn direction(topo: &Topology, step: Step, k: IfaceKey) -> Direction {
    let iface = topo.interface(k);
    let internal = iface.is_some_and(|i| i.kind == LinkKind::Openvswitch);
    let master = iface.and_then(|i| i.master);
    match step.prev {
        // The sender's own link transmits, and so does the link a router sends it out of.
        _ if step.routed => Direction::Egress,
        None if step.first => Direction::Egress,
        // From the VM through its tap, from a veth peer, or up from a lower device.
        Some(Node::Vm(_)) => Direction::Ingress,
        // OVS delivers to an internal port as a receive; to a system port as a transmit.
        Some(Node::OvsPort(..)) if internal => Direction::Ingress,
        Some(Node::OvsPort(..)) => Direction::Egress,
        // A bridge forwards out through its port.
        Some(Node::Iface(p)) if Some(p) == master => Direction::Egress,
        Some(Node::Iface(p)) => {
            let from_lower = iface.and_then(|i| i.link) == Some(p)
                && iface.is_some_and(|i| i.kind != LinkKind::Veth);
            let from_upper = topo.interface(p).and_then(|u| u.link) == Some(k)
                && topo.interface(p).is_some_and(|u| u.kind != LinkKind::Veth);
            if from_upper && !from_lower {
                Direction::Egress
            } else {
                Direction::Ingress
            }
        }
        _ => match step.next {
            Some(Node::OvsPort(..)) if internal => Direction::Egress,
            _ => Direction::Ingress,
        },
    }
}
