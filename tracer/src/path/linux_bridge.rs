//! A Linux bridge on the path: it forwards between its ports without a hook of ours, or
//! delivers to its own interface (a server listening on the bridge).

use super::{walk::Step, Direction, HopKind, Note, PathHop};
use crate::topology::{graph::Node, IfaceKey, Topology};

/// Whether the walk reaches `bridge` from one of its ports (rather than through its own
/// interface's veth or lower device).
pub fn is_port_of(topo: &Topology, prev: Option<Node>, bridge: IfaceKey) -> bool {
    match prev {
        Some(Node::Iface(p)) => topo.interface(p).and_then(|i| i.master) == Some(bridge),
        _ => false,
    }
}

pub fn visit(step: Step, hop: &mut PathHop) {
    hop.kind = HopKind::LinuxBridge;
    if matches!(step.next, Some(Node::Dhcp(_))) || step.next.is_none() {
        hop.direction = Some(Direction::Ingress);
        hop.notes.push(Note::DeliveredToBridge);
    }
}
