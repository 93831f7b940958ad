//! The journey as a picture (Graphviz DOT): the expected path drawn over the host's topology
//! (namespaces as clusters, Linux and OVS bridges with their other ports, VLAN tags and MTUs,
//! patch ports, the VM and the DHCP server), the route numbered in order, green as far as the
//! packets got, and the stop marked with its cause, like the seeds' hand-drawn diagrams.

use std::{collections::BTreeMap, fmt::Write as _};

use super::dot::quote;
use crate::{
    journey::{correlate::Way, report::Report, verdict::Outcome},
    path::{fmt_vlan, ExpectedPath, HopKind, PathHop},
    topology::Topology,
};

const REACHED: &str = "#1a7f37";
const NOT_REACHED: &str = "#8c959f";
const STOP: &str = "#cf222e";

pub fn render(report: &Report, expected: &ExpectedPath, topo: &Topology) -> String {
    let mut out = String::from(
        "digraph pathtrace {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n",
    );
    let _ = writeln!(
        out,
        "  label={};\n  labelloc=t;",
        quote(&format!(
            "{} of {}: {}",
            super::json_name(&report.mode),
            report.mac,
            super::json_name(&report.verdict)
        ))
    );
    let stop = stop_index(report, expected);
    // A stop past the last sighting (a bridge whose flow dropped it) was reached too: the
    // datapath crosses patch ports and bridges in one step.
    let reached = reached(report).max(stop.unwrap_or(0));
    nodes(&mut out, expected, topo, reached, stop);
    route(&mut out, expected, reached, stop, report);
    out.push_str("}\n");
    out
}

/// The furthest path hop (1-based) an outbound packet was seen at; all of them when the whole
/// run was delivered.
fn reached(report: &Report) -> usize {
    if report.verdict == Outcome::Delivered {
        return usize::MAX;
    }
    report
        .packets
        .iter()
        .filter(|p| p.way == Way::Outbound)
        .flat_map(|p| &p.hops)
        .filter(|h| !h.inferred && h.benign.is_none())
        .filter_map(|h| h.path_hop)
        .max()
        .unwrap_or(0)
}

/// The path hop (1-based) where the run stopped.
fn stop_index(report: &Report, expected: &ExpectedPath) -> Option<usize> {
    let at = report.stopped_at.as_ref()?;
    expected
        .hops
        .iter()
        .find(|h| h.name == at.ifname && (at.netns.is_none() || h.netns == at.netns))
        .map(|h| h.index)
}

fn node_id(h: &PathHop) -> String {
    format!("hop{}", h.index)
}

fn label(h: &PathHop) -> String {
    let mut l = h.name.clone();
    match h.kind {
        HopKind::Vm => l = format!("VM {l}"),
        HopKind::OvsBridge => l = format!("ovs {l}\n{}", fmt_vlan(h.vlan)),
        HopKind::OvsPatch => l += "\npatch",
        HopKind::OvsTunnel => l += "\ntunnel",
        HopKind::LogicalRouter => l = format!("OVN router {l}"),
        HopKind::LogicalSwitch => l = format!("OVN switch {l}"),
        _ => {}
    }
    if let Some(tag) = h.ovs_port.as_ref().and_then(|p| p.tag) {
        l += &format!("\ntag {tag}");
    }
    if let Some(mtu) = h.mtu {
        l += &format!("\nmtu {mtu}");
    }
    if let Some(r) = &h.vlan_rewrite {
        l += &format!("\n{} → {}", fmt_vlan(r.from), fmt_vlan(r.to));
    }
    l
}

fn shape(kind: HopKind) -> &'static str {
    match kind {
        HopKind::Vm => "component",
        HopKind::Interface => "ellipse",
        HopKind::LinuxBridge => "box",
        HopKind::OvsBridge => "box3d",
        HopKind::OvsPatch => "cds",
        HopKind::OvsTunnel => "cds",
        HopKind::DhcpServer => "note",
        HopKind::LogicalRouter => "hexagon",
        HopKind::LogicalSwitch => "octagon",
    }
}

fn nodes(
    out: &mut String,
    expected: &ExpectedPath,
    topo: &Topology,
    reached: usize,
    stop: Option<usize>,
) {
    let mut by_netns: BTreeMap<Option<&str>, Vec<&PathHop>> = BTreeMap::new();
    for h in &expected.hops {
        // Bridges and patch ports of OVS belong to no namespace; the rest where they live.
        let ns = match h.kind {
            HopKind::OvsBridge
            | HopKind::OvsPatch
            | HopKind::OvsTunnel
            | HopKind::Vm
            | HopKind::LogicalRouter
            | HopKind::LogicalSwitch => None,
            _ => h.netns.as_deref(),
        };
        by_netns.entry(ns).or_default().push(h);
    }
    for (i, (ns, hops)) in by_netns.iter().enumerate() {
        let indent = if ns.is_some() { "    " } else { "  " };
        if let Some(ns) = ns {
            let _ = writeln!(
                out,
                "  subgraph cluster_{i} {{\n    label={};\n    style=rounded;",
                quote(&format!("netns {ns}"))
            );
        }
        for h in hops {
            let colour = match (Some(h.index) == stop, h.index <= reached) {
                (true, _) => STOP,
                (false, true) => REACHED,
                (false, false) => NOT_REACHED,
            };
            let _ = writeln!(
                out,
                "{indent}{} [label={}, shape={}, color=\"{colour}\"{}];",
                node_id(h),
                quote(&label(h)),
                shape(h.kind),
                if Some(h.index) == stop {
                    ", penwidth=3"
                } else {
                    ""
                }
            );
        }
        if ns.is_some() {
            out.push_str("  }\n");
        }
    }
    other_ports(out, expected, topo);
}

/// The other ports of the OVS bridges on the path, small and grey, for context.
fn other_ports(out: &mut String, expected: &ExpectedPath, topo: &Topology) {
    let on_path: Vec<&str> = expected.hops.iter().map(|h| h.name.as_str()).collect();
    for h in expected
        .hops
        .iter()
        .filter(|h| h.kind == HopKind::OvsBridge)
    {
        let Some(bridge) = topo.ovs_bridges.iter().find(|b| b.name == h.name) else {
            continue;
        };
        for p in bridge
            .ports
            .iter()
            .filter(|p| !on_path.contains(&p.name.as_str()))
        {
            let id = quote(&format!("{}/{}", bridge.name, p.name));
            let tag = p.tag.map(|t| format!("\ntag {t}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {id} [label={}, shape=cds, color=\"{NOT_REACHED}\", fontcolor=\"{NOT_REACHED}\", fontsize=8];\n  {} -> {id} [style=dotted, arrowhead=none, color=\"{NOT_REACHED}\"];",
                quote(&format!("{}{tag}", p.name)),
                node_id(h)
            );
        }
    }
}

fn route(
    out: &mut String,
    expected: &ExpectedPath,
    reached: usize,
    stop: Option<usize>,
    report: &Report,
) {
    for (n, pair) in expected.hops.windows(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        let passed = b.index <= reached && stop.is_none_or(|s| b.index <= s);
        let (colour, style) = if passed {
            (REACHED, "solid")
        } else {
            (NOT_REACHED, "dashed")
        };
        let mut label = format!("{}", n + 1);
        if Some(a.index) == stop {
            if let Some(reason) = &report.reason {
                label += &format!(" ✗ {}", wrap_label(reason));
            }
        }
        let _ = writeln!(
            out,
            "  {} -> {} [label={}, color=\"{}\", fontcolor=\"{}\", style={style}, penwidth=2];",
            node_id(a),
            node_id(b),
            quote(&label),
            if Some(a.index) == stop { STOP } else { colour },
            if Some(a.index) == stop { STOP } else { colour },
        );
    }
}

/// A long cause broken into lines of about 40 characters, for an edge label.
fn wrap_label(text: &str) -> String {
    super::fit::wrap(text, 40, 0).join("\n")
}
