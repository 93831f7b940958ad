//! The expected path as text: one line per hop, then what is expected at the end.

use std::fmt::Write as _;

use crate::path::{fmt_vlan, ExpectedPath, HopKind, PathHop};

pub fn render(p: &ExpectedPath) -> String {
    let mut out = format!("expected path of {} to the {}\n", p.mac, p.goal);
    let header = ["#", "hop", "name", "netns", "dir", "bridge", "vlan", "mtu"].map(String::from);
    let rows: Vec<[String; 8]> = p
        .hops
        .iter()
        .map(|h| {
            let kind = match h.kind {
                HopKind::Vm => "vm",
                HopKind::Interface => "interface",
                HopKind::LinuxBridge => "bridge",
                HopKind::OvsBridge => "ovs-bridge",
                HopKind::OvsPatch => "ovs-patch",
                HopKind::OvsTunnel => "ovs-tunnel",
                HopKind::DhcpServer => "dhcp-server",
                HopKind::LogicalRouter => "ovn-router",
                HopKind::LogicalSwitch => "ovn-switch",
            };
            let dir = h.direction.map_or("", |d| d.as_str());
            let vlan = match &h.vlan_rewrite {
                Some(r) => format!("{}->{}", fmt_vlan(r.from), fmt_vlan(r.to)),
                None => fmt_vlan(h.vlan),
            };
            [
                h.index.to_string(),
                kind.into(),
                h.name.clone(),
                h.netns.clone().unwrap_or_default(),
                dir.into(),
                h.bridge.clone().unwrap_or_default(),
                vlan,
                h.mtu.map(|m| m.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    let mut width = [0usize; 8];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 8]| {
        let mut l = format!("{:>w$}", row[0], w = width[0]);
        for (i, cell) in row.iter().enumerate().skip(1) {
            if i == 7 {
                l += &format!("  {cell:>w$}", w = width[i]);
            } else {
                l += &format!("  {cell:<w$}", w = width[i]);
            }
        }
        l
    };
    let _ = writeln!(out, "{}", line(&header));
    for (h, row) in p.hops.iter().zip(&rows) {
        let _ = writeln!(
            out,
            "{}{}",
            line(row),
            if h.kernel_visible {
                ""
            } else {
                "  (not seen by the kernel)"
            }
        );
        details(h, &" ".repeat(width[0] + 2), &mut out);
    }
    if let Some(d) = &p.dhcp_server {
        let _ = writeln!(
            out,
            "DHCP server: {} in {} on {}; reserved address {}",
            d.label,
            d.netns,
            d.interfaces.join(","),
            d.reserved_ip
                .map_or("none (dynamic range only)".into(), |ip| ip.to_string())
        );
    }
    if let Some(b) = p.blocked_at {
        let _ = writeln!(out, "the topology blocks this path at hop {b}");
    }
    for n in &p.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

/// The lines under a hop: its bond, OVS port, flows and notes.
fn details(h: &PathHop, indent: &str, out: &mut String) {
    if let Some(b) = &h.bond {
        let _ = writeln!(
            out,
            "{indent}bond {} ({}{}): members {}{}",
            b.name,
            b.mode,
            b.lacp
                .as_ref()
                .map(|l| format!(", lacp {l}"))
                .unwrap_or_default(),
            b.members.join(", "),
            b.active
                .as_ref()
                .map(|a| format!("; active {a}"))
                .unwrap_or_default()
        );
    }
    if let Some(port) = &h.ovs_port {
        let _ = writeln!(
            out,
            "{indent}ovs port {} on {}{}{}",
            port.port,
            port.bridge,
            port.ofport
                .map(|o| format!(" ofport {o}"))
                .unwrap_or_default(),
            port.tag.map(|t| format!(" tag {t}")).unwrap_or_default()
        );
    }
    for f in &h.flows {
        let _ = writeln!(out, "{indent}flow {f}");
    }
    for n in &h.notes {
        let _ = writeln!(out, "{indent}! {n}");
    }
}
