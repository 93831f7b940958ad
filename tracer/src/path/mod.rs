//! The expected path of a packet: pure functions over a [`Topology`] and its graph. From the
//! element that owns a MAC to the uplink (or the DHCP server), every hop with its interface,
//! namespace, bridge, VLAN as seen there, OpenFlow rewrites, MTU, and whether the kernel can see
//! it. One module per node kind; imports only the topology (and the event vocabulary's
//! [`Direction`]).

mod bond;
mod bridge_vlan;
mod build;
mod destination;
mod dhcp_server;
mod gap;
mod interface;
mod linux_bridge;
mod note;
pub mod openflow_sim;
pub mod origin;
mod ovn_pipeline;
mod ovn_router;
mod ovs_bridge;
pub mod reach;
mod search;
#[cfg(test)]
mod tests;
mod vm;
mod walk;

use anyhow::{bail, Result};
use serde::Serialize;

pub use crate::event::Direction;
use crate::{
    mac::Mac,
    topology::{
        self,
        graph::{Graph, Node},
        IfaceKey, LinkKind, OperState, Topology,
    },
};
pub use bond::{Alternative, BondHop};
pub use destination::{Destination, Unresolved};
pub use dhcp_server::DhcpExpectation;
pub use note::Note;
pub use ovn_pipeline::LogicalHop;

/// Where the path should end.
#[derive(Clone, Debug)]
pub enum Goal {
    /// The DHCP server that should answer (one with a host entry for the MAC if any).
    Dhcp,
    /// A physical NIC, or failing that an OVS tunnel port.
    Uplink,
    /// A given link.
    Interface(IfaceKey),
    /// Wherever the packet's destination is: its owner on this host, or the way out.
    Destination(Destination),
}

impl Goal {
    fn name(&self) -> &'static str {
        match self {
            Self::Dhcp => "dhcp",
            Self::Uplink => "uplink",
            Self::Interface(_) => "interface",
            Self::Destination(_) => "destination",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ExpectedPath {
    pub mac: Mac,
    /// `dhcp`, `uplink`, `interface` or `destination`.
    pub goal: &'static str,
    pub hops: Vec<PathHop>,
    /// The DHCP server at the end, for [`Goal::Dhcp`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp_server: Option<DhcpExpectation>,
    /// Where the topology itself says the packet cannot pass (an OpenFlow drop, a VLAN that
    /// no port carries, a link down): the index of the hop, 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_at: Option<usize>,
    pub notes: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HopKind {
    /// The VM that sends or receives (not visible to the host kernel).
    Vm,
    /// A kernel link; the TC hooks see the packet here.
    Interface,
    LinuxBridge,
    /// An OVS bridge: the kernel datapath executes its flows in one step.
    OvsBridge,
    /// An OVS patch port: no netdev, the datapath never sees it.
    OvsPatch,
    /// An OVS tunnel port (geneve, vxlan, ...): the packet leaves the host encapsulated.
    OvsTunnel,
    DhcpServer,
    /// An OVN logical router: run by the integration bridge's flows, seen by no hook.
    LogicalRouter,
    /// An OVN logical switch a logical router leads into.
    LogicalSwitch,
}

#[derive(Clone, Debug, Serialize)]
pub struct PathHop {
    /// 1-based.
    pub index: usize,
    pub kind: HopKind,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns_ino: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ifindex: Option<u32>,
    /// Link kind for interfaces (veth, tap, openvswitch, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<LinkKind>,
    /// Direction as a TC hook on this interface sees the packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The bridge this interface is a port of (Linux or OVS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// OVS port facts for interfaces that are OVS ports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ovs_port: Option<OvsPortInfo>,
    /// VLAN id of the packet here: on the wire for interfaces, the VLAN the bridge switches
    /// it in for bridges. `None`: untagged.
    pub vlan: Option<u16>,
    /// An OpenFlow rewrite at this hop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan_rewrite: Option<VlanRewrite>,
    /// The logical switch and port the packet is in here (an OVN integration bridge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logical: Option<LogicalHop>,
    /// OpenFlow rules that applied at this bridge, as dump-flows prints them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oper_state: Option<OperState>,
    /// False for hops the kernel datapath cannot see (patch ports, the VM itself, OVS bridges
    /// other than through the datapath hooks).
    pub kernel_visible: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// The bond this hop is (or is a member of).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bond: Option<BondHop>,
    /// Other links that may carry the packet in this one's place (the bond's other members):
    /// attached too, and a packet seen there is at this hop.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Alternative>,
}

impl PathHop {
    /// A hop of OVN's logical network (a logical router or switch an integration bridge runs).
    pub fn is_logical(&self) -> bool {
        matches!(self.kind, HopKind::LogicalRouter | HopKind::LogicalSwitch)
    }

    /// An interface hop the kernel sees, carrying `vlan`; the node kinds fill in the rest.
    fn new(vlan: Option<u16>) -> Self {
        Self {
            index: 0,
            kind: HopKind::Interface,
            name: String::new(),
            netns: None,
            netns_ino: None,
            ifindex: None,
            device: None,
            direction: None,
            bridge: None,
            ovs_port: None,
            vlan,
            vlan_rewrite: None,
            logical: None,
            flows: Vec::new(),
            mtu: None,
            oper_state: None,
            kernel_visible: true,
            notes: Vec::new(),
            bond: None,
            alternatives: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct OvsPortInfo {
    pub bridge: String,
    pub port: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ofport: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trunks: Vec<u16>,
}

#[derive(Clone, Debug, Serialize)]
pub struct VlanRewrite {
    pub from: Option<u16>,
    pub to: Option<u16>,
    /// The flow that did it.
    pub flow: String,
}

pub fn compute(topo: &Topology, mac: Mac, goal: &Goal) -> Result<ExpectedPath> {
    let owner = origin::find(topo, mac)?;
    owner.first_link(topo, mac)?;
    let start = owner.node();
    // An active-backup bond's standby members carry nothing: the walk takes the active one.
    let graph = Graph::new(topo).retain(|e| !bond::is_standby_member(topo, e));
    if let Goal::Destination(dst) = goal {
        return to_destination(topo, &graph, mac, start, *dst);
    }
    let (mut path, end) = match search::shortest_to(&graph, start, |n| rank(topo, mac, goal, n)) {
        Some(walk) => (build::build(topo, mac, goal, &walk), walk.last().copied()),
        None => match (goal, best_server(topo, mac)) {
            (Goal::Dhcp, Some(server)) => (
                broken(topo, &graph, mac, goal, (&[start], &[]), server),
                Some(server),
            ),
            _ => bail!(
                "no path from {mac} to {} in the discovered topology",
                unreachable(topo, goal)
            ),
        },
    };
    if let (Goal::Dhcp, Some(Node::Dhcp(d))) = (goal, end) {
        dhcp_server::expect(topo, d, mac, &mut path);
    }
    Ok(path)
}

/// The first link the host sees `mac`'s packets on: its VM's tap, or its own link.
pub fn first_link(topo: &Topology, mac: Mac) -> Result<IfaceKey> {
    origin::find(topo, mac)?.first_link(topo, mac)
}

/// The server a DHCP path should end at, by the same ranking as the search.
fn best_server(topo: &Topology, mac: Mac) -> Option<Node> {
    (0..topo.dhcp_servers.len())
        .map(Node::Dhcp)
        .min_by_key(|&n| rank(topo, mac, &Goal::Dhcp, n))
}

/// The path to a packet's destination, routed where the host routes it (see `destination`).
fn to_destination(
    topo: &Topology,
    graph: &Graph,
    mac: Mac,
    start: Node,
    dst: Destination,
) -> Result<ExpectedPath> {
    let goal = Goal::Destination(dst);
    let r = destination::resolve(topo, graph, start, dst)
        .map_err(|e| anyhow::anyhow!("no path from {mac} to {}: {e}", dst.ip))?;
    let no_route = r.end == destination::End::NoRoute;
    let mut path = match r.end {
        destination::End::Gap { from, target } => {
            let mut before = r.walk;
            before.push(from);
            broken(topo, graph, mac, &goal, (&before, &r.routed), target)
        }
        _ => build::build_routed(topo, mac, &goal, &r.walk, &r.routed),
    };
    path.notes.push(match r.end {
        destination::End::Owner => format!("{} is this host's: the path ends at its owner", dst.ip),
        destination::End::NextHopMac => {
            format!("the path ends where {}'s next hop's MAC is", dst.ip)
        }
        destination::End::NoRoute => format!(
            "the path ends where {}'s next hop's MAC is, whose namespace has no route to it",
            dst.ip
        ),
        destination::End::Uplink => format!("{} is not on this host: the path leaves it", dst.ip),
        destination::End::Logical => format!(
            "{} is not on this host's links, and no uplink is reached: OVN's logical network decides on the integration bridge",
            dst.ip
        ),
        destination::End::Gap { .. } => format!("{} is on this host, out of reach", dst.ip),
    });
    if no_route {
        let at = path.hops.len();
        if let Some(last) = path.hops.last_mut() {
            last.notes.push(Note::NoRoute {
                netns: last.netns.clone().unwrap_or_default(),
                dst: dst.ip,
            });
            path.blocked_at = Some(at);
        }
    }
    Ok(path)
}

/// Why `mac`'s packets to `dst` have no path on this host, if they have none (the MAC itself
/// unknown is not this question's: see [`compute`]).
pub fn unresolved(topo: &Topology, mac: Mac, dst: Destination) -> Option<Unresolved> {
    let start = origin::find(topo, mac).ok()?.node();
    let graph = Graph::new(topo).retain(|e| !bond::is_standby_member(topo, e));
    destination::resolve(topo, &graph, start, dst).err()
}

/// The path of a topology that breaks between the client and its goal (its DHCP server, its
/// destination's owner): `before` (ending where the break begins), then each side as far as
/// it goes, the gap noted on the client's last hop (see `gap`).
fn broken(
    topo: &Topology,
    graph: &Graph,
    mac: Mac,
    goal: &Goal,
    (before, routed): (&[Node], &[(usize, topology::routing::Route)]),
    target: Node,
) -> ExpectedPath {
    let (from, earlier) = before.split_last().expect("a walk starts somewhere");
    let halves = gap::halves(topo, graph, *from, target);
    let client_walk: Vec<Node> = earlier.iter().chain(&halves.client).copied().collect();
    let client_hops = build::build_routed(topo, mac, goal, &client_walk, routed)
        .hops
        .len();
    let walk: Vec<Node> = client_walk.iter().chain(&halves.server).copied().collect();
    let mut path = build::build_routed(topo, mac, goal, &walk, routed);
    let note = Note::PathBreaks {
        client_end: halves.client_end,
        far: match goal {
            Goal::Dhcp => note::FarSide::DhcpServer,
            _ => note::FarSide::Destination,
        },
        server_end: halves.server_end,
    };
    path.notes
        .push(format!("no walk joins {mac} to its goal: {note}"));
    if let Some(hop) = client_hops
        .checked_sub(1)
        .and_then(|i| path.hops.get_mut(i))
    {
        hop.notes.push(note);
        path.blocked_at = Some(client_hops);
    }
    path
}

/// How good `n` is as the end of the path (lower is better), `None` if it is not one.
fn rank(topo: &Topology, mac: Mac, goal: &Goal, n: Node) -> Option<u32> {
    match (goal, n) {
        // A running server with a host entry for the MAC first; one that is configured but
        // not running last, so that the path still ends where the answer should come from.
        (Goal::Dhcp, Node::Dhcp(d)) => {
            let d = &topo.dhcp_servers[d];
            let no_entry = !d.hosts.iter().any(|h| h.macs.contains(&mac));
            Some(u32::from(no_entry) + 2 * u32::from(d.pid.is_none()))
        }
        (Goal::Uplink, Node::Iface(k)) => topo
            .interface(k)
            .is_some_and(|i| i.kind == LinkKind::Physical)
            .then_some(0),
        (Goal::Uplink, Node::OvsPort(b, p)) => topo.ovs_bridges[b].ports[p]
            .interfaces
            .iter()
            .any(|i| i.is_tunnel())
            .then_some(1),
        (Goal::Interface(k), n) => (n == Node::Iface(*k)).then_some(0),
        _ => None,
    }
}

/// What the path was looking for, for the error when nothing leads there.
fn unreachable(topo: &Topology, goal: &Goal) -> String {
    match goal {
        Goal::Dhcp if topo.dhcp_servers.is_empty() => {
            "a DHCP server: no dnsmasq runs on this host".to_string()
        }
        Goal::Dhcp => "any DHCP server".into(),
        Goal::Uplink => "a physical NIC or tunnel port".into(),
        Goal::Interface(k) => topo.interface(*k).map_or("that interface".into(), |i| {
            format!("{}:{}", i.netns_name, i.name)
        }),
        Goal::Destination(d) => d.ip.to_string(),
    }
}

pub fn fmt_vlan(v: Option<u16>) -> String {
    v.map_or("untagged".into(), |v| format!("VLAN {v}"))
}
