//! String ids for graph nodes, as the topology JSON documents them (`if:NETNS:IFINDEX`,
//! `ovs:BRIDGE`, `ovsport:BRIDGE/PORT`, `vm:NAME`, `dhcp:PID`) and DOT reuses them.

use crate::topology::{graph::Node, Topology};

pub fn of(topo: &Topology, n: Node) -> String {
    match n {
        Node::Iface(k) => format!("if:{}:{}", k.netns, k.ifindex),
        Node::OvsBridge(b) => format!("ovs:{}", topo.ovs_bridges[b].name),
        Node::OvsPort(b, p) => {
            let bridge = &topo.ovs_bridges[b];
            format!("ovsport:{}/{}", bridge.name, bridge.ports[p].name)
        }
        Node::Vm(v) => format!("vm:{}", topo.vms[v].name),
        Node::Dhcp(d) => format!("dhcp:{}", topo.dhcp_servers[d].id()),
    }
}
