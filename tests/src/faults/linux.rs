//! The cells on the beds the host kernel builds: the Linux half of a compute node
//! ([`LinuxComputeNode`]: VM eth0 -> tapvm -> qbr -> qvb/qvo -> brs -> dnsmasq), and a libvirt
//! network ([`LibvirtNetwork`]) for the server's own configuration.

use anyhow::Result;
use serde_json::Value;

use super::{Bed, Cell, Class, Ending, Side, Way};
use crate::{
    cmd::{self, in_netns, ip},
    journey_run::Journey,
    topologies::{LibvirtDhcp, LibvirtNetwork, LinuxComputeNode},
    Lab,
};

/// Every cell of the Linux compute node.
pub fn linux_compute_node() -> Vec<Cell> {
    use Class::*;
    let cell = |class, way, (hop, hop_kind, side), stops, cause| Cell {
        bed: match class {
            ServerIgnoresClient | ServerWithoutRange | ServerNotRunning => Bed::LibvirtNetwork,
            _ => Bed::LinuxComputeNode,
        },
        class,
        way,
        hop,
        hop_kind,
        side,
        stops,
        cause,
    };
    let tapvm = ("tapvm", "veth", Side::Hypervisor);
    let qvb = ("qvb", "veth", Side::Hypervisor);
    let qvo = ("qvo", "veth", Side::Server);
    let qbr = ("qbr", "bridge", Side::Hypervisor);
    let brs = ("brs", "bridge", Side::Server);
    let server = ("dnsmasq", "server", Side::Server);
    vec![
        cell(LinkDown, Way::Request, tapvm, &["eth0"], "link_down"),
        cell(LinkDown, Way::Request, qvb, &["tapvm", "qbr"], "link_down"),
        cell(
            LinkDown,
            Way::Request,
            qvo,
            &["tapvm", "qbr", "qvb"],
            "link_down",
        ),
        // The bridge's own TC hook still sees what arrives; the server behind it does not.
        cell(LinkDown, Way::Request, brs, &["qvo", "brs"], "link_down"),
        cell(
            Unbridged,
            Way::Request,
            tapvm,
            &["tapvm"],
            "predicted_block",
        ),
        cell(Unbridged, Way::Request, qvb, &["qbr"], "predicted_block"),
        cell(Unbridged, Way::Request, qvo, &["qvo"], "predicted_block"),
        cell(
            FirewallDrop,
            Way::Request,
            qbr,
            &["tapvm", "qbr"],
            "kernel_drop",
        ),
        cell(FirewallDrop, Way::Request, brs, &["brs"], "kernel_drop"),
        cell(
            FirewallDrop,
            Way::Reply,
            qbr,
            &["qvb", "qbr"],
            "kernel_drop",
        ),
        cell(
            FirewallDrop,
            Way::Reply,
            brs,
            &["brs", "qvo"],
            "kernel_drop",
        ),
        cell(ServerGone, Way::Request, server, &["brs"], "server_gone"),
        // On a libvirt network: the server's configuration keeps it silent.
        cell(
            ServerIgnoresClient,
            Way::Request,
            server,
            &["virbr0"],
            "server_silent/ignores_client",
        ),
        cell(
            ServerWithoutRange,
            Way::Request,
            server,
            &["virbr0"],
            "server_silent/no_range_for_subnet",
        ),
        cell(
            ServerNotRunning,
            Way::Request,
            server,
            &["virbr0"],
            "server_not_running",
        ),
    ]
}

/// Runs `cell` once per ending on one libvirt network (every fault of this bed stays).
pub fn run_on_libvirt_network(cell: &Cell, endings: &[Ending]) -> Result<Vec<(i32, Value)>> {
    let dhcp = match cell.class {
        Class::ServerWithoutRange => LibvirtDhcp::RangeElsewhere,
        Class::ServerIgnoresClient => LibvirtDhcp::IgnoresVm,
        _ => LibvirtDhcp::Healthy,
    };
    let mut lab = Lab::new("fm");
    let net = LibvirtNetwork::build(&mut lab, dhcp)?;
    if cell.class == Class::ServerNotRunning {
        cmd::kill_all_in(&net.host)?;
    }
    let mut out = Vec::new();
    for &ending in endings {
        let name = format!("fault-{:?}", cell.class).to_lowercase() + ending.suffix();
        let journey =
            Journey::start_on_libvirt_network(&mut lab, &name, &net.vm_mac, &ending.timeout(10))?;
        out.push(ending.finish(journey, &mut lab, &net.vm, 6));
    }
    Ok(out)
}

/// Runs `cell` once per ending; a fault that stays (all but a server killed after the start)
/// serves every ending on one bed.
pub fn run_on_compute_node(cell: &Cell, endings: &[Ending]) -> Result<Vec<(i32, Value)>> {
    if cell.class == Class::ServerGone && endings.len() > 1 {
        return endings
            .iter()
            .map(|&e| run_on_compute_node(cell, &[e]).map(|mut v| v.remove(0)))
            .collect();
    }
    let mut lab = Lab::new("fm");
    let topo = LinuxComputeNode::build(&mut lab)?;
    if cell.class != Class::ServerGone {
        inject(cell, &topo)?;
    }
    let mut out = Vec::new();
    for &ending in endings {
        let name = format!("fault-{:?}-{:?}-{}", cell.class, cell.way, cell.hop).to_lowercase()
            + ending.suffix();
        let journey = Journey::start(
            &mut lab,
            &name,
            &["--dhcp", &topo.vm_mac, "--timeout", &ending.timeout(10)],
        )?;
        if cell.class == Class::ServerGone {
            cmd::kill_all_in(&topo.srv)?;
        }
        out.push(ending.finish(journey, &mut lab, &topo.vm, 6));
    }
    Ok(out)
}

fn inject(cell: &Cell, topo: &LinuxComputeNode) -> Result<()> {
    let ns = match cell.side {
        Side::Hypervisor => topo.hv.as_str(),
        Side::Server => topo.srv.as_str(),
    };
    match cell.class {
        Class::LinkDown => {
            ip(ns, &["link", "set", cell.hop, "down"])?;
        }
        Class::Unbridged => {
            ip(ns, &["link", "set", cell.hop, "nomaster"])?;
        }
        Class::FirewallDrop => {
            // A bridge's forwarding (security groups on qbr), or the server's own input.
            let (family, hook, port) = match (cell.hop_kind, cell.way, cell.side) {
                ("bridge", Way::Request, Side::Hypervisor) => ("bridge", "forward", "dport 67"),
                ("bridge", Way::Reply, Side::Hypervisor) => ("bridge", "forward", "sport 67"),
                (_, Way::Request, _) => ("inet", "input", "dport 67"),
                (_, Way::Reply, _) => ("inet", "output", "sport 67"),
            };
            let rules = format!(
                "add table {family} pt_fault; add chain {family} pt_fault c {{ type filter hook {hook} priority 0; }}; add rule {family} pt_fault c udp {port} drop"
            );
            in_netns(ns, "nft", &[&rules])?;
        }
        _ => {}
    }
    Ok(())
}
