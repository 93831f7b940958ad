//! Bonds on the path: a Linux bond device and its members, or an OVS port with several
//! interfaces. The bond is named on its hops with its mode and members; the member the walk
//! takes is the active one where the bond says (active-backup), and the other members are the
//! hop's alternatives: attached too, so the member that carried the packet is seen, not guessed.

use serde::Serialize;

use super::PathHop;
use crate::topology::{
    bond::BondMode,
    graph::{Edge, EdgeKind, Node},
    IfaceKey, LinkKind, Topology,
};

/// The bond a hop belongs to, as the path shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BondHop {
    /// The bond device, or the OVS bond port.
    pub name: String,
    pub mode: BondMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lacp: Option<String>,
    pub members: Vec<String>,
    /// The member that carries the traffic, when the bond says (active-backup).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
}

/// Another link that may carry the packet in this hop's place (a bond's other member).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alternative {
    pub name: String,
    pub netns_ino: u32,
    pub ifindex: u32,
}

/// Whether `e` joins an active-backup bond to a member that is not its active one: the path
/// search leaves it out, so that the walk takes the member that carries the traffic.
pub fn is_standby_member(topo: &Topology, e: &Edge) -> bool {
    match (e.kind, e.from, e.to) {
        (EdgeKind::BondMember, Node::Iface(member), Node::Iface(bond)) => topo
            .interface(bond)
            .and_then(|b| b.bond.as_ref())
            .is_some_and(|b| {
                b.mode == BondMode::ActiveBackup && b.active.is_some_and(|a| a != member.ifindex)
            }),
        (EdgeKind::OvsNetdev, Node::OvsPort(b, p), Node::Iface(netdev)) => {
            let port = &topo.ovs_bridges[b].ports[p];
            let Some(bond) = port.bond.as_ref() else {
                return false;
            };
            let Some(active) = bond.active_mac.as_deref() else {
                return false;
            };
            bond.mode == BondMode::ActiveBackup
                && port.interfaces.iter().any(|i| {
                    i.netdev == Some(netdev) && i.mac_in_use.as_deref().is_none_or(|m| m != active)
                })
        }
        _ => false,
    }
}

/// Names the bond on `hop` (interface `k`) when `k` is a bond or one of its members; a member
/// also gets the other members as alternatives.
pub fn visit(topo: &Topology, k: IfaceKey, neighbours: [Option<Node>; 2], hop: &mut PathHop) {
    let Some(iface) = topo.interface(k) else {
        return;
    };
    if let Some(b) = &iface.bond {
        hop.bond = Some(linux_bond(topo, k, b.mode, b.active));
        return;
    }
    let linux = iface.master.filter(|m| {
        topo.interface(*m)
            .is_some_and(|b| b.kind == LinkKind::Bond && b.bond.is_some())
    });
    if let Some(bond_key) = linux {
        let b = topo.interface(bond_key).and_then(|b| b.bond.as_ref());
        let Some(b) = b else { return };
        hop.bond = Some(linux_bond(topo, bond_key, b.mode, b.active));
        hop.alternatives = topo
            .interfaces
            .iter()
            .filter(|m| m.master == Some(bond_key) && m.key != k)
            .map(|m| Alternative {
                name: m.name.clone(),
                netns_ino: m.key.netns,
                ifindex: m.key.ifindex,
            })
            .collect();
        return;
    }
    let ovs = neighbours.into_iter().flatten().find_map(|n| match n {
        Node::OvsPort(b, p) if topo.ovs_bridges[b].ports[p].bond.is_some() => Some((b, p)),
        _ => None,
    });
    if let Some((b, p)) = ovs {
        ovs_bond(topo, (b, p), k, hop);
    }
}

fn linux_bond(topo: &Topology, bond: IfaceKey, mode: BondMode, active: Option<u32>) -> BondHop {
    let members = topo.interfaces.iter().filter(|m| m.master == Some(bond));
    BondHop {
        name: topo
            .interface(bond)
            .map_or_else(String::new, |b| b.name.clone()),
        mode,
        lacp: None,
        members: members.clone().map(|m| m.name.clone()).collect(),
        active: members
            .clone()
            .find(|m| Some(m.key.ifindex) == active)
            .map(|m| m.name.clone()),
    }
}

fn ovs_bond(topo: &Topology, (b, p): (usize, usize), k: IfaceKey, hop: &mut PathHop) {
    let port = &topo.ovs_bridges[b].ports[p];
    let Some(bond) = &port.bond else { return };
    hop.bond = Some(BondHop {
        name: port.name.clone(),
        mode: bond.mode,
        lacp: bond.lacp.clone(),
        members: port.interfaces.iter().map(|i| i.name.clone()).collect(),
        active: bond.active_mac.as_deref().and_then(|mac| {
            port.interfaces
                .iter()
                .find(|i| i.mac_in_use.as_deref() == Some(mac))
                .map(|i| i.name.clone())
        }),
    });
    hop.alternatives = port
        .interfaces
        .iter()
        .filter_map(|i| i.netdev.filter(|n| *n != k).map(|n| (i, n)))
        .map(|(i, n)| Alternative {
            name: i.name.clone(),
            netns_ino: n.netns,
            ifindex: n.ifindex,
        })
        .collect();
}
