//! Where a frame from a MAC can go before its destination is known: the layer-2 domain of its
//! first link (veth peers, Linux and OVS bridges and their ports, patch peers, lower devices)
//! and, through each namespace on it that routes out of another link (a router), the domain of
//! that link, and so on, bounded. `trace --mac` without `--dst` attaches to all of it before
//! the first packet, so that the first packet is followed wherever it goes; `path --mac`
//! without a goal shows it.

use std::collections::{HashSet, VecDeque};

use anyhow::Result;
use serde::Serialize;

use super::{destination, origin, search::Reached};
use crate::{
    mac::Mac,
    topology::{
        graph::{Graph, Node},
        IfaceKey, LinkKind, Topology,
    },
};

/// The most links a reach holds: past it, the links farthest from the sender are left out
/// (and said). Attaching to this many takes tens of milliseconds with netlink.
pub const MAX_LINKS: usize = 256;
/// The most routers a reach crosses.
pub const MAX_ROUTERS: usize = 8;

#[derive(Debug, Serialize)]
pub struct Reach {
    pub mac: Mac,
    /// The layer-2 domains reached, the sender's first, then each behind the router that leads
    /// into it.
    pub domains: Vec<Domain>,
    /// Why the reach stops short of everything, if a bound cut it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Domain {
    /// The router link this domain is entered from (none for the sender's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    /// Its kernel links, nearest first.
    pub links: Vec<ReachLink>,
    /// Its Open vSwitch bridges.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ovs_bridges: Vec<String>,
}

/// A router: the namespace that routes from one domain into another, and its link there.
#[derive(Debug, Serialize)]
pub struct Via {
    pub netns: String,
    /// The link in the domain before, where the router receives.
    pub from: String,
    /// The link into this domain.
    pub link: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReachLink {
    pub name: String,
    pub netns: String,
    #[serde(skip)]
    pub key: IfaceKey,
    pub device: LinkKind,
    /// A physical NIC, or a link behind which an OVS tunnel port is: frames leave the host.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub leaves_host: bool,
}

impl Reach {
    /// Every link, domain by domain.
    pub fn links(&self) -> impl Iterator<Item = &ReachLink> {
        self.domains.iter().flat_map(|d| &d.links)
    }

    /// Whether an Open vSwitch bridge is in reach.
    pub fn crosses_ovs(&self) -> bool {
        self.domains.iter().any(|d| !d.ovs_bridges.is_empty())
    }
}

/// The reach of `mac`'s first link.
pub fn reach(topo: &Topology, mac: Mac) -> Result<Reach> {
    let owner = origin::find(topo, mac)?;
    let first = owner.first_link(topo, mac)?;
    let graph = Graph::new(topo);
    let mut out = Reach {
        mac,
        domains: Vec::new(),
        truncated: None,
    };
    let mut seen: HashSet<Node> = HashSet::new();
    // A namespace that sends from its own link is not a router on its packets' way; a VM's
    // tap is in the host's namespace, which may well route them (a libvirt NAT network).
    let mut routed: HashSet<u32> = HashSet::new();
    if let origin::Owner::Link(k) = owner {
        routed.insert(k.netns);
    }
    let mut queue: VecDeque<(Node, Option<Via>)> = VecDeque::from([(Node::Iface(first), None)]);
    let (mut links, mut routers) = (0, 0);
    while let Some((start, via)) = queue.pop_front() {
        if seen.contains(&start) {
            continue;
        }
        let reached = Reached::from(&graph, start);
        let mut domain = Domain {
            via,
            links: Vec::new(),
            ovs_bridges: Vec::new(),
        };
        for &n in &reached.order {
            if !seen.insert(n) {
                continue;
            }
            match n {
                Node::OvsBridge(b) => domain.ovs_bridges.push(topo.ovs_bridges[b].name.clone()),
                Node::Iface(k) => {
                    let Some(i) = topo.interface(k).filter(|i| i.kind != LinkKind::Loopback) else {
                        continue;
                    };
                    if links == MAX_LINKS {
                        out.truncated = Some(format!(
                            "more than {MAX_LINKS} links: the farthest are left out"
                        ));
                        continue;
                    }
                    links += 1;
                    domain.links.push(ReachLink {
                        name: i.name.clone(),
                        netns: i.netns_name.clone(),
                        key: k,
                        device: i.kind,
                        leaves_host: destination::leaves_host(topo, &graph, n),
                    });
                    // A namespace is asked once whether it routes elsewhere.
                    if !routed.insert(k.netns) {
                        continue;
                    }
                    let outs = router_links(topo, k);
                    if outs.is_empty() {
                        continue;
                    }
                    if routers == MAX_ROUTERS {
                        out.truncated = Some(format!(
                            "more than {MAX_ROUTERS} routers: the ones farthest are left out"
                        ));
                        continue;
                    }
                    routers += 1;
                    queue.extend(outs.into_iter().map(|(l, via)| (Node::Iface(l), Some(via))));
                }
                _ => {}
            }
        }
        out.domains.push(domain);
    }
    Ok(out)
}

/// The other links a namespace routes out of, when frames reach it at `at`: each with the
/// router it makes. None when it routes nothing elsewhere (an end host, a bridge's own port).
fn router_links(topo: &Topology, at: IfaceKey) -> Vec<(IfaceKey, Via)> {
    let Some(ns) = topo.namespaces.iter().find(|n| n.ino == at.netns) else {
        return Vec::new();
    };
    let Some(here) = topo.interface(at) else {
        return Vec::new();
    };
    let mut oifs: Vec<u32> = ns
        .routes
        .iter()
        .filter_map(|r| r.oif)
        .filter(|&o| o != at.ifindex)
        .collect();
    oifs.sort_unstable();
    oifs.dedup();
    oifs.into_iter()
        .filter_map(|o| {
            let key = IfaceKey {
                netns: at.netns,
                ifindex: o,
            };
            let link = topo
                .interface(key)
                .filter(|i| i.kind != LinkKind::Loopback)?;
            Some((
                key,
                Via {
                    netns: ns.name.clone(),
                    from: here.name.clone(),
                    link: link.name.clone(),
                },
            ))
        })
        .collect()
}
