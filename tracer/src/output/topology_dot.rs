//! Graphviz DOT: one cluster per namespace, OVS bridges and ports, VMs and DHCP servers, and
//! the typed edges of [`crate::topology::graph`].

use std::fmt::Write as _;

use crate::topology::{
    graph::{self, EdgeKind},
    Topology,
};

pub fn render(topo: &Topology) -> String {
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
                quote(&graph::iface_id(i.key)),
                quote(&format!("{}\n{kind} mtu {}", i.name, i.mtu))
            );
        }
        out.push_str("  }\n");
    }
    for b in &topo.ovs_bridges {
        let _ = writeln!(
            out,
            "  {} [label={}, shape=box3d];",
            quote(&graph::ovs_bridge_id(&b.name)),
            quote(&format!("ovs {}", b.name))
        );
        for p in &b.ports {
            let mut label = p.name.clone();
            if let Some(t) = p.tag {
                label += &format!("\ntag {t}");
            }
            let _ = writeln!(
                out,
                "  {} [label={}, shape=cds];",
                quote(&graph::ovs_port_id(&b.name, &p.name)),
                quote(&label)
            );
        }
    }
    for vm in &topo.vms {
        let _ = writeln!(
            out,
            "  {} [label={}, shape=component];",
            quote(&graph::vm_id(&vm.name)),
            quote(&format!("VM {}", vm.name))
        );
    }
    for d in &topo.dhcp_servers {
        let _ = writeln!(
            out,
            "  {} [label={}, shape=note];",
            quote(&graph::dhcp_id(d)),
            quote(&d.label())
        );
    }
    for e in &topo.edges {
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
            quote(&e.from),
            quote(&e.to),
            quote(&label),
            if style.is_empty() { "" } else { ", " }
        );
    }
    out.push_str("}\n");
    out
}

/// A DOT string literal.
fn quote(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}
