//! Where a packet can go next, element by element (links, Linux bridges, OVS ports and
//! bridges, VMs, DHCP servers), and the shortest walk from an origin to a goal.

use std::collections::{HashMap, VecDeque};

use crate::topology::{IfaceKey, LinkKind, Topology};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    Iface(IfaceKey),
    /// Index into `topo.ovs_bridges`.
    OvsBridge(usize),
    /// Bridge index, port index.
    OvsPort(usize, usize),
    Vm(usize),
    /// Index into `topo.dhcp_servers`.
    Dhcp(usize),
}

/// Precomputed adjacency over a topology.
pub struct Graph {
    adjacency: HashMap<Node, Vec<Node>>,
}

impl Graph {
    pub fn new(topo: &Topology) -> Self {
        let mut adj: HashMap<Node, Vec<Node>> = HashMap::new();
        let mut link = |a: Node, b: Node| {
            adj.entry(a).or_default().push(b);
            adj.entry(b).or_default().push(a);
        };
        let kind_of: HashMap<IfaceKey, LinkKind> =
            topo.interfaces.iter().map(|i| (i.key, i.kind)).collect();
        for i in &topo.interfaces {
            let me = Node::Iface(i.key);
            if let Some(m) = i.master {
                if kind_of.get(&m) == Some(&LinkKind::Bridge) {
                    link(me, Node::Iface(m));
                }
            }
            if let Some(l) = i.link {
                // veth pairs appear from both ends: add each once.
                if kind_of.contains_key(&l) && (i.kind != LinkKind::Veth || i.key < l) {
                    link(me, Node::Iface(l));
                }
            }
        }
        for (bi, b) in topo.ovs_bridges.iter().enumerate() {
            for (pi, p) in b.ports.iter().enumerate() {
                link(Node::OvsBridge(bi), Node::OvsPort(bi, pi));
                for iface in &p.interfaces {
                    if let Some(k) = iface.netdev {
                        link(Node::OvsPort(bi, pi), Node::Iface(k));
                    }
                    if let Some(peer) = iface.patch_peer() {
                        if let Some(other) = topo.ovs_port_of(peer) {
                            if (bi, pi) < other {
                                link(Node::OvsPort(bi, pi), Node::OvsPort(other.0, other.1));
                            }
                        }
                    }
                }
            }
        }
        for (vi, vm) in topo.vms.iter().enumerate() {
            for nic in &vm.nics {
                if let Some(k) = nic.netdev {
                    link(Node::Vm(vi), Node::Iface(k));
                }
            }
        }
        for (di, d) in topo.dhcp_servers.iter().enumerate() {
            for k in &d.listens_on {
                link(Node::Dhcp(di), Node::Iface(*k));
            }
        }
        for list in adj.values_mut() {
            list.sort();
            list.dedup();
        }
        Self { adjacency: adj }
    }

    pub fn neighbours(&self, n: Node) -> &[Node] {
        self.adjacency.get(&n).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Breadth-first from `start`; returns the walk to the first node (in BFS order, so among
    /// the nearest) for which `rank` gives the best (lowest) value. VMs and DHCP servers are
    /// endpoints: a walk never passes through them.
    pub fn shortest_to(
        &self,
        start: Node,
        rank: impl Fn(Node) -> Option<u32>,
    ) -> Option<Vec<Node>> {
        let mut parent: HashMap<Node, Node> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut seen = std::collections::HashSet::from([start]);
        let mut best: Option<(u32, Node)> = None;
        while let Some(n) = queue.pop_front() {
            if n != start {
                if let Some(r) = rank(n) {
                    if best.is_none_or(|(b, _)| r < b) {
                        best = Some((r, n));
                    }
                }
                if matches!(n, Node::Vm(_) | Node::Dhcp(_)) {
                    continue;
                }
            }
            for &next in self.neighbours(n) {
                if seen.insert(next) {
                    parent.insert(next, n);
                    queue.push_back(next);
                }
            }
        }
        let (_, goal) = best?;
        let mut walk = vec![goal];
        let mut cur = goal;
        while let Some(&p) = parent.get(&cur) {
            walk.push(p);
            cur = p;
        }
        walk.reverse();
        Some(walk)
    }
}
