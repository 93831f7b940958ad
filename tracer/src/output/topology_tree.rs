//! The tree view of a topology: namespaces with their links (bridge ports under their
//! bridge, veth peers named across namespaces), then OVS bridges, VMs and DHCP servers, in
//! the spirit of the hand-drawn diagrams in `brctl show` / `ovs-vsctl show` walkthroughs.

use std::fmt::Write as _;

use crate::topology::{
    model::{DhcpServer, Interface, Namespace, OvsBridge, Vm},
    IfaceKey, LinkKind, SourceStatus, Topology,
};

/// Renders everything, or with `only` one namespace and what is attached to it (peers in
/// other namespaces are still named).
pub fn render(topo: &Topology, only: Option<u32>) -> String {
    let mut out = String::new();
    for s in &topo.sources {
        let status = match s.status {
            SourceStatus::Found => "found",
            SourceStatus::Absent => "absent",
            SourceStatus::Failed => "FAILED",
        };
        let _ = writeln!(out, "# {:<9} {status}: {}", s.source, s.detail);
    }
    let shown = |ino: u32| only.is_none_or(|o| o == ino);
    for ns in topo.namespaces.iter().filter(|n| shown(n.ino)) {
        render_netns(&mut out, topo, ns);
    }
    let here = |k: Option<IfaceKey>| k.is_some_and(|k| shown(k.netns));
    for b in topo.ovs_bridges.iter().filter(|b| {
        b.ports
            .iter()
            .flat_map(|p| &p.interfaces)
            .any(|i| here(i.netdev))
    }) {
        render_ovs(&mut out, topo, b);
    }
    for vm in topo
        .vms
        .iter()
        .filter(|v| v.nics.iter().any(|n| here(n.netdev)))
    {
        render_vm(&mut out, topo, vm);
    }
    for d in topo.dhcp_servers.iter().filter(|d| shown(d.netns)) {
        render_dhcp(&mut out, topo, d);
    }
    if let Some(ovn) = topo.ovn.as_ref().filter(|_| only.is_none()) {
        super::topology_ovn_tree::render(&mut out, ovn);
    }
    out
}

/// A namespace's links, with each Linux bridge's ports under it.
fn render_netns(out: &mut String, topo: &Topology, ns: &Namespace) {
    let _ = writeln!(out, "\nnetns {} [{}]", ns.name, ns.ino);
    let links: Vec<&Interface> = topo
        .interfaces
        .iter()
        .filter(|i| i.key.netns == ns.ino)
        .collect();
    for i in &links {
        let in_bridge = i
            .master
            .and_then(|m| topo.interface(m))
            .is_some_and(|m| m.kind == LinkKind::Bridge);
        if in_bridge {
            continue;
        }
        let _ = writeln!(out, "  {}", describe(topo, i));
        if i.kind == LinkKind::Bridge {
            let ports: Vec<&&Interface> =
                links.iter().filter(|p| p.master == Some(i.key)).collect();
            for (n, p) in ports.iter().enumerate() {
                let branch = if n + 1 == ports.len() {
                    "└─"
                } else {
                    "├─"
                };
                let _ = writeln!(out, "    {branch} {}", describe(topo, p));
            }
        }
    }
}

fn render_vm(out: &mut String, topo: &Topology, vm: &Vm) {
    let _ = writeln!(out, "\nvm {} [{}]", vm.name, vm.uuid);
    for nic in &vm.nics {
        let _ = write!(out, "  nic {} {}", nic.mac, nic.kind);
        if let Some(s) = &nic.source {
            let _ = write!(out, " source {s}");
        }
        match (nic.target_dev.as_deref(), nic.netdev) {
            (Some(t), Some(k)) => {
                let _ = write!(out, " -> tap {}", where_is(topo, k, t));
            }
            (Some(t), None) => {
                let _ = write!(out, " -> tap {t} (not on this host)");
            }
            _ => {}
        }
        if let Some(m) = nic.mtu {
            let _ = write!(out, " mtu {m}");
        }
        out.push('\n');
    }
}

fn render_dhcp(out: &mut String, topo: &Topology, d: &DhcpServer) {
    let ifaces: Vec<String> = d
        .listens_on
        .iter()
        .filter_map(|k| topo.interface(*k).map(|i| i.name.clone()))
        .collect();
    let _ = writeln!(
        out,
        "\ndhcp {} in netns {} on {} ({} host entries)",
        d.label(),
        d.netns_name,
        if let Some(b) = &d.bridge {
            format!("{b} (its flows hand it DHCP)")
        } else if ifaces.is_empty() {
            "no interface".into()
        } else {
            ifaces.join(", ")
        },
        d.hosts.len()
    );
    for r in &d.ranges {
        let _ = writeln!(out, "  range {r}");
    }
    for h in &d.hosts {
        let macs: Vec<String> = h.macs.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  host {} -> {}{}{}",
            if macs.is_empty() {
                "(client id)".into()
            } else {
                macs.join(",")
            },
            h.ip.map_or("(no address)".into(), |ip| ip.to_string()),
            h.hostname
                .as_deref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default(),
            if h.ignore { " ignore" } else { "" }
        );
    }
    for p in &d.problems {
        let _ = writeln!(out, "  problem: {p}");
    }
}

fn render_ovs(out: &mut String, topo: &Topology, b: &OvsBridge) {
    let _ = writeln!(
        out,
        "\novs bridge {} ({}, {} flows{})",
        b.name,
        b.datapath_type,
        b.flows.len(),
        b.fail_mode
            .as_deref()
            .map(|m| format!(", fail_mode {m}"))
            .unwrap_or_default()
    );
    for (n, p) in b.ports.iter().enumerate() {
        let branch = if n + 1 == b.ports.len() {
            "└─"
        } else {
            "├─"
        };
        let _ = write!(out, "  {branch} port {}", p.name);
        if let Some(t) = p.tag {
            let _ = write!(out, " tag {t}");
        }
        if !p.trunks.is_empty() {
            let t: Vec<String> = p.trunks.iter().map(ToString::to_string).collect();
            let _ = write!(out, " trunks {}", t.join(","));
        }
        for i in &p.interfaces {
            if i.name != p.name || p.interfaces.len() > 1 {
                let _ = write!(out, " iface {}", i.name);
            }
            if !i.kind.is_empty() && i.kind != "system" {
                let _ = write!(out, " {}", i.kind);
            }
            if let Some(o) = i.ofport {
                let _ = write!(out, " ofport {o}");
            }
            if let Some(peer) = i.patch_peer() {
                let _ = write!(out, " <-> peer {peer}");
            }
            for key in ["remote_ip", "key", "local_ip"] {
                if let Some(v) = i.options.get(key) {
                    let _ = write!(out, " {key}={v}");
                }
            }
            if let Some(k) = i.netdev {
                let _ = write!(out, " -> {}", where_is(topo, k, &i.name));
            }
            if let Some(m) = i.external_ids.get("attached-mac") {
                let _ = write!(out, " attached-mac {m}");
            }
            if let Some(e) = &i.error {
                let _ = write!(out, " ERROR {e}");
            }
        }
        out.push('\n');
    }
    for f in &b.flows {
        let _ = writeln!(
            out,
            "     flow {}{}",
            f.text,
            f.n_packets
                .map(|n| format!("  (n_packets={n})"))
                .unwrap_or_default()
        );
    }
}

/// One line for a link: index, name, kind, MTU, state, MAC, addresses, peer/lower device.
fn describe(topo: &Topology, i: &Interface) -> String {
    let mut s = format!(
        "{} {} {}",
        i.key.ifindex,
        i.name,
        i.kind_name
            .clone()
            .unwrap_or_else(|| super::json_name(&i.kind))
    );
    if let Some(v) = i.vlan_id {
        let _ = write!(s, " id {v}");
    }
    if let Some(v) = i.vni {
        let _ = write!(s, " vni {v}");
    }
    let _ = write!(s, " mtu {} {}", i.mtu, i.oper_state);
    if let Some(m) = i.mac {
        let _ = write!(s, " {m}");
    }
    if !i.addresses.is_empty() {
        let _ = write!(s, " {}", i.addresses.join(" "));
    }
    if let Some(master) = i.master.and_then(|m| topo.interface(m)) {
        if master.kind == LinkKind::Openvswitch {
            if let Some((b, _)) = topo.ovs_port_of(&i.name) {
                let _ = write!(s, " [ovs {}]", topo.ovs_bridges[b].name);
            }
        }
    }
    if let Some(l) = i.link {
        let arrow = if i.kind == LinkKind::Veth {
            "<->"
        } else {
            "on"
        };
        let name = topo.interface(l).map_or("?", |p| p.name.as_str());
        let _ = write!(s, " {arrow} {}", where_is(topo, l, name));
    }
    s
}

/// `name` if the link is in the host's namespace, `netns:name` otherwise.
fn where_is(topo: &Topology, k: IfaceKey, name: &str) -> String {
    let own = topo.namespaces.first().map(|n| n.ino);
    if Some(k.netns) == own {
        name.to_string()
    } else {
        format!("{}:{name}", topo.netns_name(k.netns))
    }
}
