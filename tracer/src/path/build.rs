//! A walk over the graph -> the hops of the expected path, each node kind by its own module,
//! with the packet (its VLAN) and the smallest MTU so far carried from hop to hop.

use super::{
    dhcp_server, interface,
    openflow_sim::Packet,
    ovn_pipeline, ovs_bridge, vm,
    walk::{Carried, Step, Visit},
    ExpectedPath, Goal, HopKind, PathHop,
};
use crate::{
    mac::Mac,
    topology::{graph::Node, routing::Route, Topology},
};

pub fn build(topo: &Topology, mac: Mac, goal: &Goal, walk: &[Node]) -> ExpectedPath {
    build_routed(topo, mac, goal, walk, &[])
}

/// As [`build`], for a walk that routers continue: at each position in `routed` a router sent
/// the packet out of that link, by that route (a new frame: new MACs, no VLAN yet).
pub fn build_routed(
    topo: &Topology,
    mac: Mac,
    goal: &Goal,
    walk: &[Node],
    routed: &[(usize, Route)],
) -> ExpectedPath {
    let dhcp = matches!(goal, Goal::Dhcp);
    let mut carried = Carried {
        pkt: Packet {
            src: mac,
            dst: dhcp.then_some(Mac([0xff; 6])),
            vlan: None,
            dhcp,
            dhcp_reply: false,
            ipv4: false,
        },
        dst_ip: match goal {
            Goal::Destination(d) => Some(d.ip),
            _ => None,
        },
        last_mtu: None,
    };
    let mut hops: Vec<PathHop> = Vec::new();
    let mut blocked_at = None;
    for (i, &node) in walk.iter().enumerate() {
        let route = routed.iter().find(|(at, _)| *at == i).map(|(_, r)| r);
        if route.is_some() {
            carried.pkt.vlan = None;
            carried.pkt.dst = None;
        }
        let step = Step {
            // Routed: where it came in is no neighbour of the link it leaves by.
            prev: i
                .checked_sub(1)
                .map(|p| walk[p])
                .filter(|_| route.is_none()),
            // Before a router sends it on, the packet is delivered up its stack here.
            next: walk
                .get(i + 1)
                .copied()
                .filter(|_| !routed.iter().any(|(at, _)| *at == i + 1)),
            first: i == 0,
            routed: route.is_some(),
        };
        let mut hop = PathHop::new(carried.pkt.vlan);
        if let Some(r) = route {
            hop.notes.push(super::Note::RoutedOut {
                route: r.to_string(),
            });
        }
        match visit(topo, node, step, &mut carried, &mut hop) {
            Visit::Skip => continue,
            Visit::Pass => hops.push(hop),
            Visit::Blocked => {
                blocked_at.get_or_insert(hops.len() + 1);
                hops.push(hop);
            }
            Visit::Then {
                hops: logical,
                blocked,
            } => {
                hops.push(hop);
                if let Some(b) = blocked {
                    blocked_at.get_or_insert(hops.len() + b + 1);
                }
                hops.extend(logical);
            }
        }
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

/// What node `node` contributes, by its kind's module.
fn visit(
    topo: &Topology,
    node: Node,
    step: Step,
    carried: &mut Carried,
    hop: &mut PathHop,
) -> Visit {
    match node {
        Node::Vm(v) => {
            vm::visit(topo, v, carried.pkt.src, hop);
            Visit::Pass
        }
        Node::Dhcp(d) => {
            dhcp_server::visit(topo, d, hop);
            Visit::Pass
        }
        Node::OvsPort(b, p) => ovs_bridge::visit_port(topo, b, p, hop),
        Node::OvsBridge(b) if ovn_pipeline::manages(topo, b) => {
            ovn_pipeline::visit(topo, b, step, carried, hop)
        }
        Node::OvsBridge(b) => ovs_bridge::visit_bridge(topo, b, step, carried, hop),
        Node::Iface(k) => interface::visit(topo, k, step, carried, hop),
    }
}
