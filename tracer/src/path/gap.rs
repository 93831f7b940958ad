//! A DHCP path that breaks: the topology itself is the fault (a veth that lost its bridge, a
//! port in the wrong bridge, a server whose interface is gone), so no walk joins the client to
//! its server. Instead of no path, the path as far as it goes from the client, then as far as
//! it goes back from the server, joined at a gap that a note names: the packets are traced up
//! to it, and the verdict stops there with that note as its cause.

use super::search::Reached;
use crate::topology::{
    graph::{Graph, Node},
    LinkKind, Topology,
};

/// Where each side of a broken path ends, as walks that meet at the gap.
pub struct Halves {
    /// From the client to where its side ends.
    pub client: Vec<Node>,
    /// From where the server's side ends to the server.
    pub server: Vec<Node>,
    /// What each side ends at, for the note.
    pub client_end: LooseEnd,
    pub server_end: LooseEnd,
}

/// The end of one side of a broken path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LooseEnd {
    /// A veth or tap in no bridge (Linux or OVS): a port unplugged, or never plugged.
    InNoBridge { name: String },
    /// The side ends at a bridge: nothing on it leads on.
    Bridge { name: String },
    /// The server itself: none of its interfaces leads anywhere.
    ServerAlone { name: String },
    /// The furthest thing that side reaches.
    Other { name: String },
}

impl std::fmt::Display for LooseEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InNoBridge { name } => write!(f, "{name}, which is in no bridge"),
            Self::Bridge { name } => write!(f, "the bridge {name}"),
            Self::ServerAlone { name } => write!(f, "{name} itself, on no link"),
            Self::Other { name } => f.write_str(name),
        }
    }
}

/// The two halves of the path from `start` to the server `server`, which no walk joins.
pub fn halves(topo: &Topology, graph: &Graph, start: Node, server: Node) -> Halves {
    let from_client = Reached::from(graph, start);
    let from_server = Reached::from(graph, server);
    let own = vm_side(topo, start);
    let client_end = end_of(topo, graph, &from_client, &own);
    let server_end = end_of(topo, graph, &from_server, &[]);
    let mut server_walk = from_server.walk_to(server_end);
    server_walk.reverse();
    Halves {
        client: from_client.walk_to(client_end),
        server: server_walk,
        client_end: describe(topo, graph, client_end, server),
        server_end: describe(topo, graph, server_end, server),
    }
}

/// The links that are a VM's own side of its NICs: a tap made as a veth (a VM faked with a
/// namespace, as test beds and some launchers do) has the VM's interface as its peer, which
/// is not where the path from the VM breaks.
fn vm_side(topo: &Topology, start: Node) -> Vec<Node> {
    let Node::Vm(v) = start else {
        return Vec::new();
    };
    topo.vms[v]
        .nics
        .iter()
        .filter_map(|nic| topo.interface(nic.netdev?)?.link)
        .map(Node::Iface)
        .collect()
}

/// Where one side ends: a loose veth or tap if it reaches one (the likeliest break), else the
/// furthest bridge it reaches, else its furthest node; never one of `own`.
fn end_of(topo: &Topology, graph: &Graph, reached: &Reached, own: &[Node]) -> Node {
    let beyond_start = || {
        reached
            .order
            .iter()
            .copied()
            .skip(1)
            .filter(|n| !own.contains(n))
    };
    beyond_start()
        .find(|&n| is_loose(topo, graph, n))
        .or_else(|| beyond_start().rfind(|n| is_bridge(topo, *n)))
        .or_else(|| beyond_start().rfind(|n| !n.is_endpoint()))
        .unwrap_or(reached.order[0])
}

/// A veth or tap that is no bridge's port, Linux or OVS.
fn is_loose(topo: &Topology, graph: &Graph, n: Node) -> bool {
    let Node::Iface(k) = n else {
        return false;
    };
    let Some(i) = topo.interface(k) else {
        return false;
    };
    matches!(i.kind, LinkKind::Veth | LinkKind::Tap)
        && i.master.is_none()
        && !graph
            .neighbours(n)
            .iter()
            .any(|m| matches!(m, Node::OvsPort(..)))
}

fn is_bridge(topo: &Topology, n: Node) -> bool {
    match n {
        Node::OvsBridge(_) => true,
        Node::Iface(k) => topo
            .interface(k)
            .is_some_and(|i| i.kind == LinkKind::Bridge),
        _ => false,
    }
}

fn describe(topo: &Topology, graph: &Graph, end: Node, server: Node) -> LooseEnd {
    let name = |n: Node| match n {
        Node::Iface(k) => topo.interface(k).map_or("?".into(), |i| i.name.clone()),
        Node::OvsBridge(b) => topo.ovs_bridges[b].name.clone(),
        Node::OvsPort(b, p) => topo.ovs_bridges[b].ports[p].name.clone(),
        Node::Vm(v) => topo.vms[v].name.clone(),
        Node::Dhcp(d) => topo.dhcp_servers[d].label(),
    };
    if end == server {
        return LooseEnd::ServerAlone { name: name(end) };
    }
    if is_loose(topo, graph, end) {
        LooseEnd::InNoBridge { name: name(end) }
    } else if is_bridge(topo, end) {
        LooseEnd::Bridge { name: name(end) }
    } else {
        LooseEnd::Other { name: name(end) }
    }
}
