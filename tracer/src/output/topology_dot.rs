//! Graphviz DOT: one cluster per namespace, OVS bridges and ports, VMs and DHCP servers, and
//! the typed edges of the topology's [`Graph`].

use std::fmt::Write as _;

use super::{dot::quote, node_id};
use crate::topology::{
    graph::{EdgeKind, Graph, Node},
    Topology,
};

/// `graph` is the topology's graph, or a part of it (one namespace).
pub fn render(topo: &Topology, graph: &Graph) -> String {
    let id = |n: Node| quote(&node_id::of(topo, n));
    let mut out = String::from(
        "graph pathtrace {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n",
    );
    for ns in &topo.namespaces {
        let _ = writeln!(
            out,
            "  subgraph \"cluster_{}\" {{\n    label={};",
            ns.ino,
            quote(&format!("netns {}", ns.name))
        );
        for i in topo.interfaces.iter().filter(|i| i.key.netns == ns.ino) {
            let kind = super::json_name(&i.kind);
            let shape = if kind == "bridge" { "box" } else { "ellipse" };
            let _ = writeln!(
                out,
                "    {} [label={}, shape={shape}];",
                id(Node::Iface(i.key)),
                quote(&format!("{}\n{kind} mtu {}", i.name, i.mtu))
            );
        }
        out.push_str("  }\n");
    }
    for (bi, b) in topo.ovs_bridges.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {} [label={}, shape=box3d];",
            id(Node::OvsBridge(bi)),
            quote(&format!("ovs {}", b.name))
        );
        for (pi, p) in b.ports.iter().enumerate() {
            let mut label = p.name.clone();
            if let Some(t) = p.tag {
                label += &format!("\ntag {t}");
            }
            let _ = writeln!(
                out,
                "  {} [label={}, shape=cds];",
                id(Node::OvsPort(bi, pi)),
                quote(&label)
            );
        }
    }
    for (vi, vm) in topo.vms.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {} [label={}, shape=component];",
            id(Node::Vm(vi)),
            quote(&format!("VM {}", vm.name))
        );
    }
    for (di, d) in topo.dhcp_servers.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {} [label={}, shape=note];",
            id(Node::Dhcp(di)),
            quote(&d.label())
        );
    }
    for e in graph.edges() {
        let style = match e.kind {
            EdgeKind::VethPeer => "style=bold",
            EdgeKind::PatchPeer => "style=dashed",
            EdgeKind::LowerDevice => "style=dotted",
            _ => "",
        };
        let label = super::json_name(&e.kind);
        let _ = writeln!(
            out,
            "  {} -- {} [label={}{}{style}];",
            id(e.from),
            id(e.to),
            quote(&label),
            if style.is_empty() { "" } else { ", " }
        );
    }
    out.push_str("}\n");
    out
}
