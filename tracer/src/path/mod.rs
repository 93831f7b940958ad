//! The expected path of a packet: pure functions over a [`Topology`]. From the element that
//! owns a MAC to the uplink (or the DHCP server), every hop with its interface, namespace,
//! bridge, VLAN as seen there, OpenFlow rewrites, MTU, and whether the kernel can see it.

pub mod openflow_sim;
pub mod origin;
pub mod search;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::topology::sources::openflow::Action;
use crate::{
    mac::Mac,
    topology::{IfaceKey, LinkKind, Topology},
};
use openflow_sim::{Decision, Packet};
use search::{Graph, Node};

/// Where the path should end.
#[derive(Clone, Debug)]
pub enum Goal {
    /// The DHCP server that should answer (one with a host entry for the MAC if any).
    Dhcp,
    /// A physical NIC, or failing that an OVS tunnel port.
    Uplink,
    /// A given link.
    Interface(IfaceKey),
}

#[derive(Debug, Serialize)]
pub struct ExpectedPath {
    pub mac: Mac,
    /// `dhcp`, `uplink` or `interface`.
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

#[derive(Debug, Serialize)]
pub struct DhcpExpectation {
    /// `None`: the server is configured (a Neutron DHCP namespace) but not running.
    pub pid: Option<u32>,
    /// `dnsmasq pid N` or `dnsmasq (not running)`.
    pub label: String,
    pub netns: String,
    pub interfaces: Vec<String>,
    /// The address the host files reserve for this MAC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_ip: Option<std::net::Ipv4Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
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
    DhcpServer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Ingress,
    Egress,
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
    /// OpenFlow rules that applied at this bridge, as dump-flows prints them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oper_state: Option<String>,
    /// False for hops the kernel datapath cannot see (patch ports, the VM itself, OVS bridges
    /// other than through the datapath hooks).
    pub kernel_visible: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
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
    let graph = Graph::new(topo);
    let start = match owner {
        origin::Owner::VmNic { vm, .. } => Node::Vm(vm),
        origin::Owner::Link(k) => Node::Iface(k),
    };
    if let origin::Owner::VmNic { vm, nic, tap: None } = owner {
        let vm = &topo.vms[vm];
        bail!(
            "VM {} owns {mac} but its tap {} does not exist on this host (is the VM running?)",
            vm.name,
            vm.nics[nic]
                .target_dev
                .as_deref()
                .unwrap_or("(no <target dev>)")
        );
    }
    let walk = match goal {
        // A running server with a host entry for the MAC first; one that is configured but
        // not running last, so that the path still ends where the answer should come from.
        Goal::Dhcp => graph.shortest_to(start, |n| match n {
            Node::Dhcp(d) => {
                let d = &topo.dhcp_servers[d];
                let no_entry = !d.hosts.iter().any(|h| h.macs.contains(&mac));
                Some(u32::from(no_entry) + 2 * u32::from(d.pid.is_none()))
            }
            _ => None,
        }),
        Goal::Uplink => graph.shortest_to(start, |n| match n {
            Node::Iface(k) => topo
                .interface(k)
                .is_some_and(|i| i.kind == LinkKind::Physical)
                .then_some(0),
            Node::OvsPort(b, p) => topo.ovs_bridges[b].ports[p]
                .interfaces
                .iter()
                .any(|i| matches!(i.kind.as_str(), "geneve" | "vxlan" | "gre" | "stt"))
                .then_some(1),
            _ => None,
        }),
        Goal::Interface(k) => graph.shortest_to(start, |n| (n == Node::Iface(*k)).then_some(0)),
    };
    let Some(walk) = walk else {
        let what = match goal {
            Goal::Dhcp if topo.dhcp_servers.is_empty() => {
                "a DHCP server: no dnsmasq runs on this host".to_string()
            }
            Goal::Dhcp => "any DHCP server".into(),
            Goal::Uplink => "a physical NIC or tunnel port".into(),
            Goal::Interface(k) => topo.interface(*k).map_or("that interface".into(), |i| {
                format!("{}:{}", i.netns_name, i.name)
            }),
        };
        bail!("no path from {mac} to {what} in the discovered topology");
    };
    let mut path = build(topo, mac, goal, &walk);
    if let (Goal::Dhcp, Some(Node::Dhcp(d))) = (goal, walk.last()) {
        let d = &topo.dhcp_servers[*d];
        let host = d.hosts.iter().find(|h| h.macs.contains(&mac));
        if d.pid.is_none() {
            path.notes.push(format!(
                "no DHCP server runs in {}: nothing will answer{}",
                d.netns_name,
                d.config_dir.as_ref().map_or(String::new(), |dir| format!(
                    " (the Neutron DHCP agent's state for it is in {dir})"
                ))
            ));
            path.blocked_at.get_or_insert(path.hops.len());
        }
        if host.is_none() {
            path.notes.push(format!(
                "{} has no host entry for {mac}: it answers only if a dynamic range covers the subnet",
                d.label()
            ));
        }
        if host.is_some_and(|h| h.ignore) {
            path.notes
                .push(format!("{} is told to ignore {mac}", d.label()));
        }
        path.dhcp_server = Some(DhcpExpectation {
            pid: d.pid,
            label: d.label(),
            netns: d.netns_name.clone(),
            interfaces: d
                .listens_on
                .iter()
                .filter_map(|k| topo.interface(*k).map(|i| i.name.clone()))
                .collect(),
            reserved_ip: host.and_then(|h| h.ip),
            hostname: host.and_then(|h| h.hostname.clone()),
        });
    }
    Ok(path)
}

/// Turns a walk over elements into hops, following the VLAN of the packet through ports and
/// OpenFlow tables.
fn build(topo: &Topology, mac: Mac, goal: &Goal, walk: &[Node]) -> ExpectedPath {
    let mut pkt = Packet {
        src: mac,
        dst: matches!(goal, Goal::Dhcp).then_some(Mac([0xff; 6])),
        vlan: None,
        dhcp: matches!(goal, Goal::Dhcp),
    };
    let mut hops: Vec<PathHop> = Vec::new();
    let mut notes = Vec::new();
    let mut blocked_at = None;
    let mut last_mtu: Option<(u32, String)> = None;
    for (i, &node) in walk.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| walk[p]);
        let next = walk.get(i + 1).copied();
        let mut hop = PathHop {
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
            vlan: pkt.vlan,
            vlan_rewrite: None,
            flows: Vec::new(),
            mtu: None,
            oper_state: None,
            kernel_visible: true,
            notes: Vec::new(),
        };
        match node {
            Node::Vm(v) => {
                hop.kind = HopKind::Vm;
                hop.name = topo.vms[v].name.clone();
                hop.kernel_visible = false;
                if let Some(nic) = topo.vms[v].nics.iter().find(|n| n.mac == mac) {
                    hop.mtu = nic.mtu;
                }
            }
            Node::Dhcp(d) => {
                let s = &topo.dhcp_servers[d];
                hop.kind = HopKind::DhcpServer;
                hop.name = s.label();
                hop.netns = Some(s.netns_name.clone());
                hop.netns_ino = Some(s.netns);
                hop.kernel_visible = false;
            }
            Node::OvsPort(b, p) => {
                let port = &topo.ovs_bridges[b].ports[p];
                // Ports with a netdev are folded into that interface's hop.
                let Some(iface) = port.interfaces.iter().find(|i| i.is_patch()) else {
                    continue;
                };
                hop.kind = HopKind::OvsPatch;
                hop.name = iface.name.clone();
                hop.bridge = Some(topo.ovs_bridges[b].name.clone());
                hop.ovs_port = Some(port_info(topo, b, p));
                hop.kernel_visible = false;
                hop.notes.push(format!(
                    "patch port to {}: no netdev, inferred (the datapath crosses it in one flow)",
                    iface.patch_peer().unwrap_or("?")
                ));
            }
            Node::OvsBridge(b) => {
                let bridge = &topo.ovs_bridges[b];
                hop.kind = HopKind::OvsBridge;
                hop.name = bridge.name.clone();
                hop.kernel_visible = false;
                let (Some(Node::OvsPort(_, pin)), Some(Node::OvsPort(_, pout))) = (prev, next)
                else {
                    hop.notes
                        .push("path starts or ends inside this bridge".into());
                    hops.push(hop);
                    continue;
                };
                let flows = &topo.ovs_bridges[b].flows;
                if ovs_bridge_step(topo, b, (pin, pout), flows, &mut pkt, &mut hop) {
                    blocked_at.get_or_insert(hops.len() + 1);
                }
            }
            Node::Iface(k) => {
                let Some(iface) = topo.interface(k) else {
                    continue;
                };
                hop.name = iface.name.clone();
                hop.netns = Some(iface.netns_name.clone());
                hop.netns_ino = Some(k.netns);
                hop.ifindex = Some(k.ifindex);
                hop.device = Some(iface.kind);
                hop.mtu = Some(iface.mtu);
                hop.oper_state = Some(iface.oper_state.clone());
                if iface.kind == LinkKind::Bridge && is_port_of(topo, prev, k) {
                    hop.kind = HopKind::LinuxBridge;
                    if matches!(next, Some(Node::Dhcp(_))) || next.is_none() {
                        hop.direction = Some(Direction::Ingress);
                        hop.notes
                            .push("delivered to the bridge's own interface".into());
                    }
                } else {
                    hop.direction = Some(direction(topo, prev, next, k, i == 0));
                    hop.bridge = iface
                        .master
                        .and_then(|m| topo.interface(m))
                        .filter(|m| m.kind == LinkKind::Bridge)
                        .map(|m| m.name.clone());
                    // VLAN sub-interfaces tag on the way down and untag on the way up.
                    if iface.kind == LinkKind::Vlan {
                        match (prev, next) {
                            (_, Some(Node::Iface(l))) if Some(l) == iface.link => {
                                pkt.vlan = iface.vlan_id;
                            }
                            (Some(Node::Iface(l)), _) if Some(l) == iface.link => {
                                if pkt.vlan != iface.vlan_id {
                                    hop.notes.push(format!(
                                        "VLAN device for {} but the packet carries {}",
                                        fmt_vlan(iface.vlan_id),
                                        fmt_vlan(pkt.vlan)
                                    ));
                                    blocked_at.get_or_insert(hops.len() + 1);
                                }
                                pkt.vlan = None;
                                hop.vlan = None;
                            }
                            _ => {}
                        }
                    }
                    if let Some(port) = [prev, next].into_iter().flatten().find_map(|n| match n {
                        Node::OvsPort(b, p) => Some((b, p)),
                        _ => None,
                    }) {
                        hop.ovs_port = Some(port_info(topo, port.0, port.1));
                        hop.bridge = Some(topo.ovs_bridges[port.0].name.clone());
                    }
                }
                let oper_down = matches!(iface.oper_state.as_str(), "down" | "lower_layer_down");
                if !iface.admin_up {
                    hop.notes.push("link is administratively down".into());
                    blocked_at.get_or_insert(hops.len() + 1);
                } else if oper_down && iface.kind != LinkKind::Bridge {
                    hop.notes.push(format!("link is {}", iface.oper_state));
                    blocked_at.get_or_insert(hops.len() + 1);
                } else if oper_down {
                    // A bridge without carrier still forwards between its ports.
                    hop.notes
                        .push("bridge has no carrier (no port forwarding yet)".into());
                }
                if let Some((mtu, at)) = &last_mtu {
                    if iface.mtu < *mtu && iface.kind != LinkKind::Bridge {
                        hop.notes.push(format!(
                            "MTU {} is lower than {mtu} at {at}: larger frames are dropped here",
                            iface.mtu
                        ));
                    }
                }
                // A bridge's own MTU only limits what it sends itself; forwarded frames are
                // limited by the egress port.
                if iface.kind != LinkKind::Bridge {
                    last_mtu = Some((iface.mtu, format!("{}:{}", iface.netns_name, iface.name)));
                }
            }
        }
        hops.push(hop);
    }
    for (n, h) in hops.iter_mut().enumerate() {
        h.index = n + 1;
    }
    if hops.iter().all(|h| h.kind != HopKind::OvsBridge) && !topo.ovs_bridges.is_empty() {
        notes.push("the path crosses no Open vSwitch bridge".into());
    }
    ExpectedPath {
        mac,
        goal: match goal {
            Goal::Dhcp => "dhcp",
            Goal::Uplink => "uplink",
            Goal::Interface(_) => "interface",
        },
        hops,
        dhcp_server: None,
        blocked_at,
        notes,
    }
}

/// Runs one OVS bridge: `flows` on the packet as received, then NORMAL's VLAN rules for the
/// in and out ports. Returns true if the packet cannot pass.
fn ovs_bridge_step(
    topo: &Topology,
    b: usize,
    (pin, pout): (usize, usize),
    flows: &[crate::topology::sources::openflow::Flow],
    pkt: &mut Packet,
    hop: &mut PathHop,
) -> bool {
    let bridge = &topo.ovs_bridges[b];
    let as_received = pkt.clone();
    let (in_port, out_port) = (&bridge.ports[pin], &bridge.ports[pout]);
    let ofport = |p: &crate::topology::model::OvsPort| {
        p.interfaces
            .first()
            .and_then(|i| i.ofport)
            .map(|o| o.to_string())
            .unwrap_or_default()
    };
    let wire_in = pkt.vlan;
    let outcome = if flows.is_empty() {
        hop.notes
            .push("flows not read: assuming the default NORMAL flow".into());
        openflow_sim::Outcome {
            decisions: vec![Decision::Normal],
            vlan: pkt.vlan,
            ..Default::default()
        }
    } else {
        openflow_sim::run(flows, &ofport(in_port), pkt)
    };
    hop.flows = outcome.applied.iter().map(|f| f.text.clone()).collect();
    hop.notes.extend(outcome.notes.iter().cloned());
    if outcome.vlan != wire_in {
        hop.vlan_rewrite = Some(VlanRewrite {
            from: wire_in,
            to: outcome.vlan,
            flow: outcome
                .applied
                .last()
                .map(|f| f.text.clone())
                .unwrap_or_default(),
        });
    }
    pkt.vlan = outcome.vlan;
    let decision = outcome.decisions.first().cloned().unwrap_or(Decision::Drop);
    match decision {
        Decision::Drop => {
            hop.notes.push(match outcome.applied.last() {
                Some(f) if !outcome.table_miss => format!("dropped by flow: {}", f.text),
                _ => "dropped: no flow matches (table miss)".into(),
            });
            hop.vlan = pkt.vlan;
            // The hops after it show the packet as the bridge would pass it without its drop
            // flows, so that "expected next" carries the VLAN the packet should have had.
            if !outcome.table_miss {
                let others: Vec<_> = flows
                    .iter()
                    .filter(|f| !f.actions.iter().all(|a| *a == Action::Drop))
                    .cloned()
                    .collect();
                let mut intended = as_received;
                let mut scratch = hop.clone();
                ovs_bridge_step(topo, b, (pin, pout), &others, &mut intended, &mut scratch);
                pkt.vlan = intended.vlan;
            }
            true
        }
        Decision::Controller => {
            hop.notes
                .push("sent to the controller: the outcome depends on it".into());
            hop.vlan = pkt.vlan;
            false
        }
        Decision::Output(p) => {
            hop.vlan = pkt.vlan;
            if p != ofport(out_port) {
                hop.notes.push(format!(
                    "flow outputs to port {p}, not to {} (ofport {})",
                    out_port.name,
                    ofport(out_port)
                ));
                return true;
            }
            false
        }
        Decision::Normal => {
            // NORMAL: an access port puts untagged packets in its VLAN; a trunk carries the
            // packet's own.
            let inside = match in_port.tag {
                Some(t) if pkt.vlan.is_none() => Some(t),
                Some(t) => {
                    hop.notes.push(format!(
                        "packet tagged {} arrives on access port {} (tag {t}): NORMAL drops it",
                        fmt_vlan(pkt.vlan),
                        in_port.name
                    ));
                    hop.vlan = pkt.vlan;
                    return true;
                }
                None => pkt.vlan,
            };
            hop.vlan = inside;
            if !in_port.trunks.is_empty() && !inside.is_some_and(|v| in_port.trunks.contains(&v)) {
                hop.notes.push(format!(
                    "port {} does not trunk {}",
                    in_port.name,
                    fmt_vlan(inside)
                ));
                return true;
            }
            match out_port.tag {
                Some(t) if inside == Some(t) => pkt.vlan = None,
                Some(t) => {
                    hop.notes.push(format!(
                        "packet is in {} but port {} is an access port for VLAN {t}: NORMAL does not forward it there",
                        fmt_vlan(inside),
                        out_port.name
                    ));
                    return true;
                }
                None => {
                    if !out_port.trunks.is_empty()
                        && !inside.is_some_and(|v| out_port.trunks.contains(&v))
                    {
                        hop.notes.push(format!(
                            "port {} does not trunk {}",
                            out_port.name,
                            fmt_vlan(inside)
                        ));
                        return true;
                    }
                    pkt.vlan = inside;
                }
            }
            false
        }
    }
}

fn port_info(topo: &Topology, b: usize, p: usize) -> OvsPortInfo {
    let port = &topo.ovs_bridges[b].ports[p];
    OvsPortInfo {
        bridge: topo.ovs_bridges[b].name.clone(),
        port: port.name.clone(),
        ofport: port.interfaces.first().and_then(|i| i.ofport),
        tag: port.tag,
        trunks: port.trunks.clone(),
    }
}

fn is_port_of(topo: &Topology, prev: Option<Node>, bridge: IfaceKey) -> bool {
    match prev {
        Some(Node::Iface(p)) => topo.interface(p).and_then(|i| i.master) == Some(bridge),
        _ => false,
    }
}

/// How the TC hooks of interface `k` see the packet, given where it comes from and goes to.
fn direction(
    topo: &Topology,
    prev: Option<Node>,
    next: Option<Node>,
    k: IfaceKey,
    first: bool,
) -> Direction {
    let iface = topo.interface(k);
    let internal = iface.is_some_and(|i| i.kind == LinkKind::Openvswitch);
    let master = iface.and_then(|i| i.master);
    match prev {
        // The sender's own link transmits.
        None if first => Direction::Egress,
        // From the VM through its tap, from a veth peer, or up from a lower device.
        Some(Node::Vm(_)) => Direction::Ingress,
        // OVS delivers to an internal port as a receive; to a system port as a transmit.
        Some(Node::OvsPort(..)) if internal => Direction::Ingress,
        Some(Node::OvsPort(..)) => Direction::Egress,
        // A bridge forwards out through its port.
        Some(Node::Iface(p)) if Some(p) == master => Direction::Egress,
        Some(Node::Iface(p)) => {
            let from_lower = iface.and_then(|i| i.link) == Some(p)
                && iface.is_some_and(|i| i.kind != LinkKind::Veth);
            let from_upper = topo.interface(p).and_then(|u| u.link) == Some(k)
                && topo.interface(p).is_some_and(|u| u.kind != LinkKind::Veth);
            if from_upper && !from_lower {
                Direction::Egress
            } else {
                Direction::Ingress
            }
        }
        _ => match next {
            Some(Node::OvsPort(..)) if internal => Direction::Egress,
            _ => Direction::Ingress,
        },
    }
}

pub fn fmt_vlan(v: Option<u16>) -> String {
    v.map_or("untagged".into(), |v| format!("VLAN {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{
        model::{DhcpServer, Interface, OvsBridge, OvsInterface, OvsPort},
        sources::{dnsmasq::HostEntry, openflow::parse_dump},
    };

    fn link(netns: u32, ifindex: u32, name: &str, kind: LinkKind) -> Interface {
        Interface {
            key: IfaceKey { netns, ifindex },
            netns_name: if netns == 1 {
                "root".into()
            } else {
                "vm".into()
            },
            name: name.into(),
            kind,
            kind_name: None,
            mac: Some(Mac([2, 0, 0, 0, netns as u8, ifindex as u8])),
            mtu: 1500,
            oper_state: "up".into(),
            admin_up: true,
            master: None,
            link: None,
            vlan_id: None,
            vni: None,
            addresses: Vec::new(),
        }
    }

    fn port(name: &str, ofport: i64, tag: Option<u16>, netdev: IfaceKey) -> OvsPort {
        OvsPort {
            name: name.into(),
            tag,
            trunks: Vec::new(),
            vlan_mode: None,
            interfaces: vec![OvsInterface {
                name: name.into(),
                kind: String::new(),
                ofport: Some(ofport),
                options: Default::default(),
                external_ids: Default::default(),
                mtu: None,
                mac_in_use: None,
                link_state: None,
                error: None,
                netdev: Some(netdev),
            }],
        }
    }

    /// vm:eth0 <-> qvo (br-int access port, tag 7) ; eth1 (trunk, physical uplink).
    fn hand_built(flows: &str) -> Topology {
        let key = |netns, ifindex| IfaceKey { netns, ifindex };
        let mut eth0 = link(2, 2, "eth0", LinkKind::Veth);
        eth0.link = Some(key(1, 5));
        let datapath = link(1, 3, "ovs-system", LinkKind::Openvswitch);
        let mut qvo = link(1, 5, "qvo", LinkKind::Veth);
        qvo.link = Some(key(2, 2));
        qvo.master = Some(key(1, 3));
        let mut eth1 = link(1, 6, "eth1", LinkKind::Physical);
        eth1.master = Some(key(1, 3));
        Topology {
            interfaces: vec![eth0, datapath, qvo, eth1],
            ovs_bridges: vec![OvsBridge {
                name: "br-int".into(),
                datapath_type: "system".into(),
                fail_mode: None,
                ports: vec![
                    port("qvo", 1, Some(7), key(1, 5)),
                    port("eth1", 2, None, key(1, 6)),
                ],
                flows: parse_dump(flows).unwrap(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn access_port_tags_and_trunk_carries_the_tag_to_the_uplink() {
        let topo = hand_built("priority=1 actions=NORMAL\n");
        let mac = Mac([2, 0, 0, 0, 2, 2]);
        let p = compute(&topo, mac, &Goal::Uplink).unwrap();
        let rows: Vec<(&str, Option<Direction>, Option<u16>)> = p
            .hops
            .iter()
            .map(|h| (h.name.as_str(), h.direction, h.vlan))
            .collect();
        assert_eq!(
            rows,
            [
                ("eth0", Some(Direction::Egress), None),
                ("qvo", Some(Direction::Ingress), None),
                ("br-int", None, Some(7)),
                ("eth1", Some(Direction::Egress), Some(7)),
            ]
        );
        assert_eq!(p.hops[1].ovs_port.as_ref().unwrap().tag, Some(7));
        assert!(!p.hops[2].kernel_visible);
        assert_eq!(p.blocked_at, None);
    }

    #[test]
    fn a_drop_flow_blocks_the_path_at_its_bridge() {
        let topo = hand_built("priority=5,in_port=1 actions=drop\npriority=1 actions=NORMAL\n");
        let p = compute(&topo, Mac([2, 0, 0, 0, 2, 2]), &Goal::Uplink).unwrap();
        assert_eq!(p.blocked_at, Some(3));
        // After the bridge, the packet as it would have been without the drop flow.
        assert_eq!(p.hops[3].vlan, Some(7));
        assert!(
            p.hops[2]
                .notes
                .iter()
                .any(|n| n.contains("dropped by flow")),
            "{:?}",
            p.hops[2].notes
        );
    }

    #[test]
    fn unknown_mac_names_the_closest() {
        let topo = hand_built("priority=1 actions=NORMAL\n");
        let err = compute(&topo, Mac([2, 0, 0, 0, 2, 3]), &Goal::Uplink)
            .unwrap_err()
            .to_string();
        assert!(err.contains("02:00:00:00:02:02 (vm:eth0)"), "{err}");
    }

    fn server(pid: Option<u32>, netns: u32, on: IfaceKey, host_for: Option<Mac>) -> DhcpServer {
        DhcpServer {
            pid,
            program: "dnsmasq".into(),
            config_dir: pid.is_none().then(|| "/var/lib/neutron/dhcp/n1".into()),
            netns,
            netns_name: format!("qdhcp-n{netns}"),
            interfaces: Vec::new(),
            listens_on: vec![on],
            ranges: Vec::new(),
            hostsfiles: Vec::new(),
            hosts: host_for
                .into_iter()
                .map(|m| HostEntry {
                    macs: vec![m],
                    ip: Some("10.0.0.2".parse().unwrap()),
                    hostname: None,
                    lease_time: None,
                    ignore: false,
                    origin: "host:1".into(),
                })
                .collect(),
            problems: Vec::new(),
        }
    }

    /// hand_built plus two DHCP namespaces on br-int (tag 7): ports tapa (netns 3) and tapb
    /// (netns 4).
    fn with_dhcp_namespaces(a: Option<u32>, b: Option<u32>, host_on_b: Mac) -> Topology {
        let key = |netns, ifindex| IfaceKey { netns, ifindex };
        let mut topo = hand_built("priority=1 actions=NORMAL\n");
        for (ns, ofport) in [(3, 3), (4, 4)] {
            let name = format!("tap{}", if ns == 3 { 'a' } else { 'b' });
            topo.interfaces
                .push(link(ns, 9, &name, LinkKind::Openvswitch));
            topo.ovs_bridges[0]
                .ports
                .push(port(&name, ofport, Some(7), key(ns, 9)));
        }
        topo.dhcp_servers = vec![
            server(a, 3, key(3, 9), None),
            server(b, 4, key(4, 9), Some(host_on_b)),
        ];
        topo
    }

    #[test]
    fn a_running_server_is_preferred_to_a_configured_one_that_is_down() {
        let mac = Mac([2, 0, 0, 0, 2, 2]);
        let topo = with_dhcp_namespaces(Some(10), None, mac);
        let p = compute(&topo, mac, &Goal::Dhcp).unwrap();
        assert_eq!(p.hops.last().unwrap().name, "dnsmasq pid 10");
        assert_eq!(p.blocked_at, None);
        assert_eq!(p.dhcp_server.as_ref().unwrap().pid, Some(10));
    }

    #[test]
    fn with_no_server_running_the_path_ends_where_it_should_listen() {
        let mac = Mac([2, 0, 0, 0, 2, 2]);
        let topo = with_dhcp_namespaces(None, None, mac);
        let p = compute(&topo, mac, &Goal::Dhcp).unwrap();
        let last = p.hops.last().unwrap();
        assert_eq!(last.name, "dnsmasq (not running)");
        assert_eq!(
            last.netns.as_deref(),
            Some("qdhcp-n4"),
            "the one with the host entry"
        );
        assert_eq!(p.hops[p.hops.len() - 2].name, "tapb");
        assert_eq!(p.blocked_at, Some(p.hops.len()));
        let server = p.dhcp_server.as_ref().unwrap();
        assert_eq!(server.pid, None);
        assert_eq!(server.reserved_ip, Some("10.0.0.2".parse().unwrap()));
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("no DHCP server runs in qdhcp-n4")
                    && n.contains("/var/lib/neutron/dhcp/n1")),
            "{:?}",
            p.notes
        );
    }
}
