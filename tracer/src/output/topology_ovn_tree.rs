//! The logical layer of the tree view, in the spirit of `ovn-nbctl show` beside `ovs-vsctl
//! show`: this chassis and ovn-controller, then each logical switch with its ports (type,
//! addresses, DHCP options, port security, where it is bound) and each logical router with
//! its ports and routes. Names come from OVN's databases: shown escaped and shortened.

use std::fmt::Write as _;

use crate::topology::{
    ovn::{LogicalRouter, LogicalSwitch, LogicalSwitchPort, Ovn, PortType},
    sources::untrusted::shown,
};

pub fn render(out: &mut String, ovn: &Ovn) {
    let chassis = ovn.chassis.as_deref().map_or("?".into(), shown);
    let controller = match (ovn.controller.pid, ovn.controller.connected) {
        (Some(pid), Some(false)) => format!("ovn-controller pid {pid} (NOT connected)"),
        (Some(pid), _) => format!("ovn-controller pid {pid}"),
        (None, _) => "ovn-controller NOT running".into(),
    };
    let _ = writeln!(
        out,
        "\novn chassis {chassis} on {} ({controller})",
        shown(&ovn.integration_bridge)
    );
    for (net, br) in &ovn.bridge_mappings {
        let _ = writeln!(out, "  bridge mapping {} -> {}", shown(net), shown(br));
    }
    for s in &ovn.switches {
        render_switch(out, ovn, s);
    }
    for r in &ovn.routers {
        render_router(out, r);
    }
}

fn render_switch(out: &mut String, ovn: &Ovn, s: &LogicalSwitch) {
    let _ = writeln!(out, "  logical switch {}", shown(&s.name));
    for (n, p) in s.ports.iter().enumerate() {
        let branch = if n + 1 == s.ports.len() {
            "└─"
        } else {
            "├─"
        };
        let _ = writeln!(out, "    {branch} {}", describe_port(ovn, p));
    }
    for a in &s.acls {
        let _ = writeln!(
            out,
            "    acl {} {} \"{}\" {}{}",
            shown(&a.direction),
            a.priority,
            shown(&a.matches),
            shown(&a.action),
            a.port_group
                .as_ref()
                .map_or(String::new(), |g| format!(" (port group {})", shown(g)))
        );
    }
    for m in &s.copp {
        let _ = writeln!(
            out,
            "    copp {}: meter {} {} {} burst {}",
            shown(&m.protocol),
            shown(&m.meter),
            m.rate,
            shown(&m.unit),
            m.burst
        );
    }
}

fn describe_port(ovn: &Ovn, p: &LogicalSwitchPort) -> String {
    let mut d = format!("port {}", shown(&p.name));
    if p.kind != PortType::Vif {
        d += &format!(" type {}", shown(p.kind.as_str()));
    }
    if !p.addresses.is_empty() {
        let a: Vec<String> = p.addresses.iter().map(|a| shown(a)).collect();
        d += &format!(" addresses [{}]", a.join(", "));
    }
    if !p.port_security.is_empty() {
        let a: Vec<String> = p.port_security.iter().map(|a| shown(a)).collect();
        d += &format!(" port_security [{}]", a.join(", "));
    }
    if let Some(o) = &p.dhcpv4 {
        d += &format!(" dhcpv4 {}", shown(&o.cidr));
    }
    if let Some(t) = p.tag {
        d += &format!(" tag {t}");
    }
    if p.is_disabled() {
        d += " DISABLED";
    }
    if let Some(net) = p.options.get("network_name") {
        d += &format!(" network {}", shown(net));
        if p.kind == PortType::Localnet {
            d += &match ovn.bridge_mappings.get(net) {
                Some(b) => format!(" -> {}", shown(b)),
                // ovn-controller patches a localnet only to a mapped bridge: nothing leaves here.
                None => " (NO bridge mapping on this chassis)".into(),
            };
        }
    }
    if p.kind == PortType::Vif && ovn.southbound {
        d += &match ovn.binding(&p.name).and_then(|b| b.chassis.as_deref()) {
            Some(c) if Some(c) == ovn.chassis.as_deref() => " bound here".to_string(),
            Some(c) => format!(" bound on {}", shown(c)),
            None => " NOT bound".into(),
        };
    }
    d
}

fn render_router(out: &mut String, r: &LogicalRouter) {
    let disabled = if r.enabled == Some(false) {
        " DISABLED"
    } else {
        ""
    };
    let _ = writeln!(out, "  logical router {}{disabled}", shown(&r.name));
    for p in &r.ports {
        let nets: Vec<String> = p.networks.iter().map(|n| shown(n)).collect();
        let _ = writeln!(
            out,
            "    port {} {} [{}]{}",
            shown(&p.name),
            shown(&p.mac),
            nets.join(", "),
            if p.enabled == Some(false) {
                " DISABLED"
            } else {
                ""
            }
        );
    }
    for s in &r.static_routes {
        let _ = writeln!(
            out,
            "    route {} via {}",
            shown(&s.ip_prefix),
            shown(&s.nexthop)
        );
    }
    for n in &r.nat {
        let _ = writeln!(
            out,
            "    nat {} {} <-> {}",
            shown(&n.kind),
            shown(&n.external_ip),
            shown(&n.logical_ip)
        );
    }
}
