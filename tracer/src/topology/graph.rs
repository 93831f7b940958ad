//! The topology as one typed graph, derived from the facts in a [`Topology`] once per use: every
//! interface, OVS bridge and port, VM and DHCP server is a [`Node`], and typed [`Edge`]s say
//! how they connect. The path search walks its adjacency; the renderers draw its edges (and
//! only they give nodes string ids).

use std::collections::HashMap;

use serde::Serialize;

use super::model::{IfaceKey, LinkKind, Topology};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    Iface(IfaceKey),
    /// Index into `topo.ovs_bridges`.
    OvsBridge(usize),
    /// Bridge index, port index.
    OvsPort(usize, usize),
    /// Index into `topo.vms`.
    Vm(usize),
    /// Index into `topo.dhcp_servers`.
    Dhcp(usize),
}

impl Node {
    /// A VM or a DHCP server: where a walk may end but never pass through.
    pub fn is_endpoint(self) -> bool {
        matches!(self, Self::Vm(_) | Self::Dhcp(_))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// The two ends of a veth pair (listed once, from the lower interface key).
    VethPeer,
    /// A port of a Linux bridge -> the bridge.
    BridgePort,
    /// A member of a Linux bond -> the bond.
    BondMember,
    /// A VLAN, macvlan, vxlan or geneve device -> the device it sends through.
    LowerDevice,
    /// An OVS bridge -> one of its ports.
    OvsPort,
    /// An OVS port -> the kernel link behind it.
    OvsNetdev,
    /// Two OVS patch ports naming each other (listed once).
    PatchPeer,
    /// A VM -> the host tap of one of its NICs.
    VmNic,
    /// A DHCP server -> a link it listens on.
    DhcpListens,
    /// A DHCP server -> the OVS bridge whose flows hand it DHCP (OVN native DHCP).
    DhcpFromBridge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: Node,
    pub to: Node,
    pub kind: EdgeKind,
}

pub struct Graph {
    edges: Vec<Edge>,
    adjacency: HashMap<Node, Vec<Node>>,
}

impl Graph {
    pub fn new(topo: &Topology) -> Self {
        Self::from_edges(edges(topo))
    }

    fn from_edges(edges: Vec<Edge>) -> Self {
        let mut adjacency: HashMap<Node, Vec<Node>> = HashMap::new();
        for e in &edges {
            adjacency.entry(e.from).or_default().push(e.to);
            adjacency.entry(e.to).or_default().push(e.from);
        }
        for list in adjacency.values_mut() {
            list.sort();
            list.dedup();
        }
        Self { edges, adjacency }
    }

    /// The same graph with only the edges `keep` accepts.
    pub fn retain(self, keep: impl Fn(&Edge) -> bool) -> Self {
        let mut edges = self.edges;
        edges.retain(keep);
        Self::from_edges(edges)
    }

    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// Where a packet at `n` can go next, in a stable order.
    pub fn neighbours(&self, n: Node) -> &[Node] {
        self.adjacency.get(&n).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn edges(topo: &Topology) -> Vec<Edge> {
    let mut out = Vec::new();
    let mut push = |from, to, kind| out.push(Edge { from, to, kind });
    for i in &topo.interfaces {
        let me = Node::Iface(i.key);
        // Ports of ovs-system are described by OVSDB, with their bridge; the datapath device
        // itself is not a bridge users configure.
        if let Some(master) = i.master {
            match topo.interface(master).map(|m| m.kind) {
                Some(LinkKind::Bridge) => push(me, Node::Iface(master), EdgeKind::BridgePort),
                Some(LinkKind::Bond) => push(me, Node::Iface(master), EdgeKind::BondMember),
                _ => {}
            }
        }
        match (i.link, i.kind) {
            // veth pairs appear from both ends: once.
            (Some(peer), LinkKind::Veth) if i.key < peer => {
                push(me, Node::Iface(peer), EdgeKind::VethPeer)
            }
            (Some(_), LinkKind::Veth) | (None, _) => {}
            (Some(lower), _) => push(me, Node::Iface(lower), EdgeKind::LowerDevice),
        }
    }
    for (bi, b) in topo.ovs_bridges.iter().enumerate() {
        for (pi, p) in b.ports.iter().enumerate() {
            push(
                Node::OvsBridge(bi),
                Node::OvsPort(bi, pi),
                EdgeKind::OvsPort,
            );
            for iface in &p.interfaces {
                if let Some(netdev) = iface.netdev {
                    push(
                        Node::OvsPort(bi, pi),
                        Node::Iface(netdev),
                        EdgeKind::OvsNetdev,
                    );
                }
                let Some((ob, op)) = iface.patch_peer().and_then(|p| topo.ovs_port_of(p)) else {
                    continue;
                };
                // Listed once, from the port whose "bridge/port" name sorts first.
                let here = format!("{}/{}", b.name, p.name);
                let there = format!(
                    "{}/{}",
                    topo.ovs_bridges[ob].name, topo.ovs_bridges[ob].ports[op].name
                );
                if here < there {
                    push(
                        Node::OvsPort(bi, pi),
                        Node::OvsPort(ob, op),
                        EdgeKind::PatchPeer,
                    );
                }
            }
        }
    }
    for (vi, vm) in topo.vms.iter().enumerate() {
        for nic in vm.nics.iter().filter_map(|n| n.netdev) {
            push(Node::Vm(vi), Node::Iface(nic), EdgeKind::VmNic);
        }
    }
    for (di, d) in topo.dhcp_servers.iter().enumerate() {
        for k in &d.listens_on {
            push(Node::Dhcp(di), Node::Iface(*k), EdgeKind::DhcpListens);
        }
        let bridge = d
            .bridge
            .as_ref()
            .and_then(|name| topo.ovs_bridges.iter().position(|b| &b.name == name));
        if let Some(bi) = bridge {
            push(
                Node::Dhcp(di),
                Node::OvsBridge(bi),
                EdgeKind::DhcpFromBridge,
            );
        }
    }
    out
}
