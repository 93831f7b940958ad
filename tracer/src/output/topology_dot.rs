//! Graphviz DOT: one cluster per namespace, OVS bridges and ports, VMs and DHCP servers, and
//! the typed edges of the topology's [`Graph`].

use std::fmt::Write as _;

use super::{dot::quote, node_id};
use crate::topology::{
    graph::{EdgeKind, Graph, Node},
    ovn::{Ovn, PortType},
    sources::untrusted::shown,
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
    if let Some(ovn) = &topo.ovn {
        render_ovn(&mut out, topo, ovn);
    }
    out.push_str("}\n");
    out
}

/// OVN's logical layer as its own cluster, joined to the physical one where an OVS interface's
/// `iface-id` names a logical port; router ports join their switch ports' peers.
fn render_ovn(out: &mut String, topo: &Topology, ovn: &Ovn) {
    out.push_str("  subgraph \"cluster_ovn\" {\n    label=\"OVN logical network\";\n");
    for s in &ovn.switches {
        let ls = quote(&format!("ls:{}", s.name));
        let _ = writeln!(
            out,
            "    {ls} [label={}, shape=box, style=rounded];",
            quote(&format!("switch {}", shown(&s.name)))
        );
        for p in &s.ports {
            let lsp = quote(&format!("lsp:{}", p.name));
            let mut label = shown(&p.name);
            if p.kind != PortType::Vif {
                label += &format!("\n{}", shown(p.kind.as_str()));
            }
            let _ = writeln!(out, "    {lsp} [label={}, shape=cds];", quote(&label));
            let _ = writeln!(out, "    {ls} -- {lsp};");
            if let Some(rp) = p.options.get("router-port") {
                let _ = writeln!(
                    out,
                    "    {lsp} -- {} [style=dashed];",
                    quote(&format!("lrp:{rp}"))
                );
            }
        }
    }
    for r in &ovn.routers {
        let lr = quote(&format!("lr:{}", r.name));
        let _ = writeln!(
            out,
            "    {lr} [label={}, shape=octagon];",
            quote(&format!("router {}", shown(&r.name)))
        );
        for p in &r.ports {
            let lrp = quote(&format!("lrp:{}", p.name));
            let _ = writeln!(
                out,
                "    {lrp} [label={}, shape=cds];",
                quote(&format!(
                    "{}\n{}",
                    shown(&p.name),
                    p.networks
                        .iter()
                        .map(|n| shown(n))
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
            );
            let _ = writeln!(out, "    {lr} -- {lrp};");
        }
    }
    out.push_str("  }\n");
    for (bi, b) in topo.ovs_bridges.iter().enumerate() {
        for (pi, p) in b.ports.iter().enumerate() {
            for id in p
                .interfaces
                .iter()
                .filter_map(|i| i.external_ids.get("iface-id"))
            {
                if ovn.port_named(id).is_some() {
                    let _ = writeln!(
                        out,
                        "  {} -- {} [label=\"iface-id\", style=dotted];",
                        quote(&node_id::of(topo, Node::OvsPort(bi, pi))),
                        quote(&format!("lsp:{id}"))
                    );
                }
            }
        }
    }
}
