//! The expected path as text: one line per hop, then what is expected at the end.

use std::fmt::Write as _;

use crate::path::{fmt_vlan, Direction, ExpectedPath, HopKind};

pub fn render(p: &ExpectedPath) -> String {
    let mut out = format!("expected path of {} to the {}\n", p.mac, p.goal);
    let _ = writeln!(
        out,
        "{:>3}  {:<11} {:<22} {:<14} {:<7} {:<12} {:<14} {:>5}",
        "#", "hop", "name", "netns", "dir", "bridge", "vlan", "mtu"
    );
    for h in &p.hops {
        let kind = match h.kind {
            HopKind::Vm => "vm",
            HopKind::Interface => "interface",
            HopKind::LinuxBridge => "bridge",
            HopKind::OvsBridge => "ovs-bridge",
            HopKind::OvsPatch => "ovs-patch",
            HopKind::DhcpServer => "dhcp-server",
        };
        let dir = match h.direction {
            Some(Direction::Ingress) => "ingress",
            Some(Direction::Egress) => "egress",
            None => "",
        };
        let mut vlan = fmt_vlan(h.vlan);
        if let Some(r) = &h.vlan_rewrite {
            vlan = format!("{}->{}", fmt_vlan(r.from), fmt_vlan(r.to));
        }
        let _ = writeln!(
            out,
            "{:>3}  {:<11} {:<22} {:<14} {:<7} {:<12} {:<14} {:>5}{}",
            h.index,
            kind,
            h.name,
            h.netns.as_deref().unwrap_or(""),
            dir,
            h.bridge.as_deref().unwrap_or(""),
            vlan,
            h.mtu.map(|m| m.to_string()).unwrap_or_default(),
            if h.kernel_visible {
                ""
            } else {
                "  (not seen by the kernel)"
            }
        );
        if let Some(port) = &h.ovs_port {
            let _ = writeln!(
                out,
                "       ovs port {} on {}{}{}",
                port.port,
                port.bridge,
                port.ofport
                    .map(|o| format!(" ofport {o}"))
                    .unwrap_or_default(),
                port.tag.map(|t| format!(" tag {t}")).unwrap_or_default()
            );
        }
        for f in &h.flows {
            let _ = writeln!(out, "       flow {f}");
        }
        for n in &h.notes {
            let _ = writeln!(out, "       ! {n}");
        }
    }
    if let Some(d) = &p.dhcp_server {
        let _ = writeln!(
            out,
            "DHCP server: dnsmasq pid {} in {} on {}; reserved address {}",
            d.pid,
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
