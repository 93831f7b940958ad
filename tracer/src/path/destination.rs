//! Where a packet that is not DHCP goes: resolved from its destination address (and, when the
//! packet itself was seen, its destination MAC) against what discovery read, never guessed.
//!
//! Segment by segment: from where the packet is, the links it reaches at layer 2. The segment
//! ends at the link that owns the destination address; else at the owner of the next hop's MAC
//! (the packet's own destination MAC, a neighbour entry, a DHCP host entry); else at a router
//! among the links reached, the namespace whose main table holds the most specific route to
//! the address. A router's namespace routes the packet out of the route's link, and the next
//! segment starts there. A packet that reaches a physical NIC or a tunnel port on its way out
//! leaves the host there (by the tunnel to the OVN chassis that binds the address, if one does);
//! one that reaches no uplink but an OVN integration bridge ends there, where the logical
//! network decides.

use std::{collections::HashSet, net::IpAddr};

use serde::{Deserialize, Serialize};

use super::search::Reached;
use crate::{
    mac::Mac,
    topology::{
        graph::{Graph, Node},
        routing::{self, Route},
        IfaceKey, LinkKind, Topology,
    },
};

/// Where the packet is going.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub ip: IpAddr,
    /// The packet's destination MAC, when a packet was seen: the first segment's next hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
}

/// How many routers a path may cross before it is called a loop.
const MAX_ROUTED_SEGMENTS: usize = 8;

/// The walk to the destination and where it was routed.
#[derive(Debug)]
pub struct Resolution {
    pub walk: Vec<Node>,
    /// Walk positions reached by routing (the link a router sent the packet out of), with the
    /// route that chose it.
    pub routed: Vec<(usize, Route)>,
    pub end: End,
}

/// What the walk ends at.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The link or VM that owns the destination address.
    Owner,
    /// The owner of the next hop's MAC (it owns no address discovery knows of).
    NextHopMac,
    /// The owner of the next hop's MAC, in a namespace with no route to the address: a
    /// router that has none drops it there.
    NoRoute,
    /// A physical NIC or tunnel port: the packet leaves the host.
    Uplink,
    /// An OVN integration bridge, with no uplink reached: the logical network decides there
    /// (a localnet port, a logical router).
    Logical,
    /// The destination's owner is on this host, but no link joins it: the walk so far, then
    /// the gap (see `gap`).
    Gap { from: Node, target: Node },
}

/// Why nothing was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unresolved {
    /// Nothing discovery knows leads towards the address.
    NoWay,
    /// Routers send the packet round in circles.
    Loop,
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoWay => "no link on this host owns it, no neighbour entry names its MAC, no namespace reached routes it, and no physical NIC or tunnel port is reached",
            Self::Loop => "the routes on this host send it round in a loop",
        })
    }
}

pub fn resolve(
    topo: &Topology,
    graph: &Graph,
    start: Node,
    dst: Destination,
) -> Result<Resolution, Unresolved> {
    let mut r = Resolution {
        walk: Vec::new(),
        routed: Vec::new(),
        end: End::Owner,
    };
    let mut from = start;
    let mut next_mac = dst.mac;
    // A namespace link that sends the packet routes it first itself: its next hop is its
    // route's gateway.
    let mut next_hop = match start {
        Node::Iface(k) => namespace_route(topo, k.netns, dst.ip)
            .and_then(|r| r.gateway)
            .filter(|_| !owns(topo, k, dst.ip))
            .unwrap_or(dst.ip),
        _ => dst.ip,
    };
    let mut routers: HashSet<u32> = HashSet::new();
    for _ in 0..MAX_ROUTED_SEGMENTS {
        let reached = Reached::from(graph, from);
        let mac = next_mac.or_else(|| mac_of(topo, next_hop));
        let (to, end) = match segment(topo, graph, &reached, dst.ip, mac, &routers) {
            Segment::Ends(to, end) => (to, end),
            Segment::Routed(gateway, route) => {
                if !routers.insert(gateway.netns) {
                    return Err(Unresolved::Loop);
                }
                r.walk.extend(reached.walk_to(Node::Iface(gateway)));
                from = Node::Iface(IfaceKey {
                    netns: gateway.netns,
                    ifindex: route.oif.unwrap_or(gateway.ifindex),
                });
                next_hop = route.gateway.unwrap_or(dst.ip);
                next_mac = None;
                r.routed.push((r.walk.len(), route));
                if leaves_host(topo, graph, from) {
                    r.walk.push(from);
                    r.end = End::Uplink;
                    return Ok(r);
                }
                continue;
            }
            Segment::OutOfReach(target) => {
                r.end = End::Gap { from, target };
                return Ok(r);
            }
            Segment::Nowhere => return Err(Unresolved::NoWay),
        };
        r.walk.extend(reached.walk_to(to));
        r.end = end;
        return Ok(r);
    }
    Err(Unresolved::Loop)
}

/// How one layer-2 segment ends.
enum Segment {
    /// At this node, the walk's end.
    Ends(Node, End),
    /// At a router (this link), which sends the packet on by this route.
    Routed(IfaceKey, Route),
    /// The destination's owner (this node) is on this host, beyond reach.
    OutOfReach(Node),
    Nowhere,
}

fn segment(
    topo: &Topology,
    graph: &Graph,
    reached: &Reached,
    ip: IpAddr,
    next_hop_mac: Option<Mac>,
    routers: &HashSet<u32>,
) -> Segment {
    if let Some(owner) = owner_of_ip(topo, reached, ip) {
        return Segment::Ends(owner, End::Owner);
    }
    match next_hop_mac.and_then(|m| owner_of_mac(topo, reached, m)) {
        // A link of a namespace that routes the address on is a router; else the MAC's owner
        // is where the packet goes.
        Some(Node::Iface(k)) => {
            return match namespace_route(topo, k.netns, ip) {
                Some(r) if r.oif.is_some_and(|o| o != k.ifindex) => Segment::Routed(k, r.clone()),
                None if !owns(topo, k, ip) => Segment::Ends(Node::Iface(k), End::NoRoute),
                _ => Segment::Ends(Node::Iface(k), End::NextHopMac),
            }
        }
        Some(owner) => return Segment::Ends(owner, End::NextHopMac),
        None => {}
    }
    if let Some((gateway, route)) = router_among(topo, reached, ip, routers) {
        return Segment::Routed(gateway, route);
    }
    // Not on this host: out of the uplink the packet reaches, if any; the tunnel to the OVN
    // chassis that binds the address first.
    let endpoints = topo
        .ovn
        .as_ref()
        .map(|o| o.remote_endpoints(ip))
        .unwrap_or_default();
    let mut uplinks = reached
        .order
        .iter()
        .copied()
        .filter(|&n| leaves_host(topo, graph, n));
    let towards = uplinks.clone().find(|&n| tunnel_to(topo, n, &endpoints));
    if let Some(up) = towards.or_else(|| uplinks.next()) {
        return Segment::Ends(up, End::Uplink);
    }
    if let Some(int) = reached.order.iter().copied().find(|&n| {
        matches!(n, Node::OvsBridge(b) if topo.ovn.as_ref().is_some_and(|o| o.integration_bridge == topo.ovs_bridges[b].name))
    }) {
        return Segment::Ends(int, End::Logical);
    }
    owner_anywhere(topo, ip)
        .or_else(|| next_hop_mac.and_then(|m| super::origin::find(topo, m).ok().map(|o| o.node())))
        .map_or(Segment::Nowhere, Segment::OutOfReach)
}

/// The route namespace `netns` picks for `ip`.
fn namespace_route(topo: &Topology, netns: u32, ip: IpAddr) -> Option<&Route> {
    let ns = topo.namespaces.iter().find(|n| n.ino == netns)?;
    routing::lookup(&ns.routes, ip)
}

fn owns(topo: &Topology, k: IfaceKey, ip: IpAddr) -> bool {
    topo.interface(k).is_some_and(|i| {
        i.addresses
            .iter()
            .filter_map(|a| routing::parse_cidr(a))
            .any(|(a, _)| a == ip)
    })
}

/// The first link reached that has the address.
fn owner_of_ip(topo: &Topology, reached: &Reached, ip: IpAddr) -> Option<Node> {
    reached
        .order
        .iter()
        .copied()
        .find(|n| matches!(n, Node::Iface(k) if owns(topo, *k, ip)))
}

fn owner_anywhere(topo: &Topology, ip: IpAddr) -> Option<Node> {
    topo.interfaces
        .iter()
        .find(|i| owns(topo, i.key, ip))
        .map(|i| Node::Iface(i.key))
}

/// The MAC an address is at: a neighbour entry of any namespace, else a DHCP host entry.
fn mac_of(topo: &Topology, ip: IpAddr) -> Option<Mac> {
    topo.namespaces
        .iter()
        .flat_map(|n| &n.neighbours)
        .find(|n| n.ip == ip)
        .map(|n| n.mac)
        .or_else(|| {
            topo.dhcp_servers
                .iter()
                .flat_map(|d| &d.hosts)
                .find(|h| h.ip.is_some_and(|h| IpAddr::V4(h) == ip))
                .and_then(|h| h.macs.first().copied())
        })
}

/// The VM NIC or link reached that has the MAC, a VM first. A Linux bridge's port does not
/// take frames for itself: the bridge does (it takes a port's MAC, and the port's own MAC is
/// a local FDB entry that delivers up the bridge's stack).
fn owner_of_mac(topo: &Topology, reached: &Reached, mac: Mac) -> Option<Node> {
    let vm =
        reached.order.iter().copied().find(
            |&n| matches!(n, Node::Vm(v) if topo.vms[v].nics.iter().any(|nic| nic.mac == mac)),
        );
    vm.or_else(|| {
        reached.order.iter().find_map(|&n| {
            let Node::Iface(k) = n else { return None };
            let i = topo.interface(k).filter(|i| i.mac == Some(mac))?;
            let bridge = i.master.filter(|m| {
                topo.interface(*m)
                    .is_some_and(|b| b.kind == LinkKind::Bridge)
            });
            Some(Node::Iface(bridge.unwrap_or(k)))
        })
    })
}

/// A link reached, with an address, in a namespace (not yet routed through) whose main table
/// routes `ip` out of another of its links: the most specific route first, then the nearest.
fn router_among(
    topo: &Topology,
    reached: &Reached,
    ip: IpAddr,
    routers: &HashSet<u32>,
) -> Option<(IfaceKey, Route)> {
    let mut best: Option<(IfaceKey, &Route)> = None;
    for &n in &reached.order {
        let Node::Iface(k) = n else { continue };
        if routers.contains(&k.netns) || !has_address_of_family(topo, k, ip) {
            continue;
        }
        let Some(r) = namespace_route(topo, k.netns, ip) else {
            continue;
        };
        if r.oif.is_none_or(|o| o == k.ifindex) {
            continue;
        }
        if best.is_none_or(|(_, b)| r.prefix_len > b.prefix_len) {
            best = Some((k, r));
        }
    }
    best.map(|(k, r)| (k, r.clone()))
}

fn has_address_of_family(topo: &Topology, k: IfaceKey, ip: IpAddr) -> bool {
    topo.interface(k).is_some_and(|i| {
        i.addresses
            .iter()
            .filter_map(|a| routing::parse_cidr(a))
            .any(|(a, _)| a.is_ipv4() == ip.is_ipv4())
    })
}

/// A physical NIC or an OVS tunnel port: beyond it, another host.
pub(super) fn leaves_host(topo: &Topology, graph: &Graph, n: Node) -> bool {
    match n {
        Node::Iface(k) => {
            topo.interface(k)
                .is_some_and(|i| matches!(i.kind, LinkKind::Physical))
                || graph.neighbours(n).iter().any(|&p| is_tunnel_port(topo, p))
        }
        Node::OvsPort(..) => is_tunnel_port(topo, n),
        _ => false,
    }
}

/// Whether `n` is a tunnel port to one of `endpoints`.
fn tunnel_to(topo: &Topology, n: Node, endpoints: &[String]) -> bool {
    matches!(n, Node::OvsPort(b, p) if topo.ovs_bridges[b].ports[p]
        .interfaces
        .iter()
        .any(|i| i.tunnel_remote_ip().is_some_and(|ip| endpoints.iter().any(|e| e == ip))))
}

fn is_tunnel_port(topo: &Topology, n: Node) -> bool {
    matches!(n, Node::OvsPort(b, p) if topo.ovs_bridges[b].ports[p]
        .interfaces
        .iter()
        .any(|i| i.is_tunnel()))
}
