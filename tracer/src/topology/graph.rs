//! The topology as a graph: every interface, OVS bridge and port, VM and DHCP server is a node
//! with a stable id, and [`Edge`]s say how they connect. Renderers (JSON, DOT) and the path
//! search read the same edges.

use serde::{Deserialize, Serialize};

use crate::topology::model::{IfaceKey, LinkKind, Topology};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// The two ends of a veth pair (listed once, from the lower node id).
    VethPeer,
    /// A port of a Linux bridge -> the bridge.
    BridgePort,
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
}

pub fn iface_id(k: IfaceKey) -> String {
    format!("if:{}:{}", k.netns, k.ifindex)
}

pub fn ovs_bridge_id(bridge: &str) -> String {
    format!("ovs:{bridge}")
}

pub fn ovs_port_id(bridge: &str, port: &str) -> String {
    format!("ovsport:{bridge}/{port}")
}

pub fn vm_id(name: &str) -> String {
    format!("vm:{name}")
}

pub fn dhcp_id(d: &crate::topology::model::DhcpServer) -> String {
    format!("dhcp:{}", d.id())
}

/// Derives every edge from the facts in `topo`.
pub fn edges(topo: &Topology) -> Vec<Edge> {
    let mut out = Vec::new();
    let mut push = |from: String, to: String, kind| out.push(Edge { from, to, kind });
    for i in &topo.interfaces {
        if let Some(master) = i.master {
            // Ports of ovs-system are described by OVSDB, with their bridge; the datapath
            // device itself is not a bridge users configure.
            let master_kind = topo.interface(master).map(|m| m.kind);
            if master_kind == Some(LinkKind::Bridge) {
                push(iface_id(i.key), iface_id(master), EdgeKind::BridgePort);
            }
        }
        if let Some(link) = i.link {
            match i.kind {
                LinkKind::Veth if i.key < link => {
                    push(iface_id(i.key), iface_id(link), EdgeKind::VethPeer)
                }
                LinkKind::Veth => {}
                _ => push(iface_id(i.key), iface_id(link), EdgeKind::LowerDevice),
            }
        }
    }
    for b in &topo.ovs_bridges {
        for p in &b.ports {
            push(
                ovs_bridge_id(&b.name),
                ovs_port_id(&b.name, &p.name),
                EdgeKind::OvsPort,
            );
            for iface in &p.interfaces {
                if let Some(netdev) = iface.netdev {
                    push(
                        ovs_port_id(&b.name, &p.name),
                        iface_id(netdev),
                        EdgeKind::OvsNetdev,
                    );
                }
                if let Some(peer) = iface.patch_peer() {
                    if let Some((pb, pp)) = topo.ovs_port_of(peer) {
                        let other = &topo.ovs_bridges[pb];
                        let (a, z) = (
                            ovs_port_id(&b.name, &p.name),
                            ovs_port_id(&other.name, &other.ports[pp].name),
                        );
                        if a < z {
                            push(a, z, EdgeKind::PatchPeer);
                        }
                    }
                }
            }
        }
    }
    for vm in &topo.vms {
        for nic in &vm.nics {
            if let Some(netdev) = nic.netdev {
                push(vm_id(&vm.name), iface_id(netdev), EdgeKind::VmNic);
            }
        }
    }
    for d in &topo.dhcp_servers {
        for k in &d.listens_on {
            push(dhcp_id(d), iface_id(*k), EdgeKind::DhcpListens);
        }
    }
    out
}
