//! A walk over the graph -> the hops of the expected path, each node kind by its own module,
//! with the packet (its VLAN) and the smallest MTU so far carried from hop to hop.

use super::{
    dhcp_server, interface,
    openflow_sim::Packet,
    ovs_bridge, vm,
    walk::{Carried, Step, Visit},
    ExpectedPath, Goal, HopKind, PathHop,
};
use crate::{
    mac::Mac,
    topology::{graph::Node, Topology},
};

pub fn build(topo: &Topology, mac: Mac, goal: &Goal, walk: &[Node]) -> ExpectedPath {
    let dhcp = matches!(goal, Goal::Dhcp);
    let mut carried = Carried {
        pkt: Packet {
            src: mac,
            dst: dhcp.then_some(Mac([0xff; 6])),
            vlan: None,
            dhcp,
        },
        last_mtu: None,
    };
    let mut hops: Vec<PathHop> = Vec::new();
    let mut blocked_at = None;
    for (i, &node) in walk.iter().enumerate() {
        let step = Step {
            prev: i.checked_sub(1).map(|p| walk[p]),
            next: walk.get(i + 1).copied(),
            first: i == 0,
        };
        let mut hop = PathHop::new(carried.pkt.vlan);
        let visit = match node {
            Node::Vm(v) => {
                vm::visit(topo, v, mac, &mut hop);
                Visit::Pass
            }
            Node::Dhcp(d) => {
                dhcp_server::visit(topo, d, &mut hop);
                Visit::Pass
            }
            Node::OvsPort(b, p) => ovs_bridge::visit_port(topo, b, p, &mut hop),
            Node::OvsBridge(b) => ovs_bridge::visit_bridge(topo, b, step, &mut carried, &mut hop),
            Node::Iface(k) => interface::visit(topo, k, step, &mut carried, &mut hop),
        };
        match visit {
            Visit::Skip => continue,
            Visit::Pass => {}
            Visit::Blocked => {
                blocked_at.get_or_insert(hops.len() + 1);
            }
        }
        hops.push(hop);
    }
    for (n, h) in hops.iter_mut().enumerate() {
        h.index = n + 1;
    }
    let mut notes = Vec::new();
    if hops.iter().all(|h| h.kind != HopKind::OvsBridge) && !topo.ovs_bridges.is_empty() {
        notes.push("the path crosses no Open vSwitch bridge".into());
    }
    ExpectedPath {
        mac,
        goal: goal.name(),
        hops,
        dhcp_server: None,
        blocked_at,
        notes,
    }
}
