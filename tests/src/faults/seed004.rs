//! The cells on seed 004's compute node with real Open vSwitch ([`Seed004`]: VM -> tap -> qbr
//! -> qvb/qvo -> br-int tag 1 -> patch -> br-eth2 `mod_vlan_vid:1000` -> eth2 -> br-net ->
//! tapdhcp in a `qdhcp-` namespace -> dnsmasq), where the OpenFlow, VLAN and MTU classes live.
//! VM only: the host kernel has no openvswitch module.

use anyhow::Result;
use serde_json::Value;

use super::{Bed, Cell, Class, Ending, Side, Way};
use crate::{
    cmd::{in_netns, ip, kill_all_in, run as sh},
    journey_run::Journey,
    topologies::{BridgeLink, Seed004},
    Lab,
};

const TAP: &str = "tap53903a95-82";
const QBR: &str = "qbr53903a95-82";
const QVB: &str = "qvb53903a95-82";
const QVO: &str = "qvo53903a95-82";
/// How long the VM's dhclient tries.
const CLIENT_SECS: u32 = 8;

/// Every cell of seed 004.
pub fn seed004() -> Vec<Cell> {
    use Class::*;
    let cell = |class, way, (hop, hop_kind, side), stops, cause| Cell {
        bed: Bed::Seed004,
        class,
        way,
        hop,
        hop_kind,
        side,
        stops,
        cause,
    };
    let qbr = (QBR, "bridge", Side::Hypervisor);
    let qvb = (QVB, "veth", Side::Hypervisor);
    let qvo = (QVO, "veth", Side::Hypervisor);
    let br_int = ("br-int", "ovs-bridge", Side::Hypervisor);
    let br_eth2 = ("br-eth2", "ovs-bridge", Side::Hypervisor);
    let eth2 = ("eth2", "veth", Side::Hypervisor);
    let tapdhcp = ("tapdhcp", "internal", Side::Server);
    let server = ("dnsmasq", "server", Side::Server);
    let before_qvo: &[&str] = &[TAP, QBR, QVB];
    vec![
        cell(
            OpenflowDrop,
            Way::Request,
            br_int,
            &["br-int"],
            "openflow_drop",
        ),
        cell(
            OpenflowDrop,
            Way::Request,
            br_eth2,
            &["br-eth2"],
            "openflow_drop",
        ),
        cell(
            OpenflowDrop,
            Way::Reply,
            br_eth2,
            &["br-eth2"],
            "openflow_drop",
        ),
        cell(
            OpenflowDrop,
            Way::Reply,
            br_int,
            &["br-int"],
            "openflow_drop",
        ),
        // Untranslated, the frame still crosses br-eth2 and eth2, tagged 1: it stops in br-net,
        // whose port for the server carries 1000.
        cell(
            VlanMismatch,
            Way::Request,
            br_eth2,
            &["br-eth2", "br-net"],
            "vlan_mismatch",
        ),
        cell(
            VlanMismatch,
            Way::Reply,
            br_int,
            &["br-int"],
            "vlan_mismatch",
        ),
        cell(Mtu, Way::Request, qvb, &[TAP, QBR], "mtu"),
        cell(LinkDown, Way::Request, qvo, before_qvo, "link_down"),
        cell(
            LinkDown,
            Way::Request,
            eth2,
            &["br-int", "br-eth2"],
            "link_down",
        ),
        cell(
            LinkDown,
            Way::Request,
            tapdhcp,
            &["eth2-net", "br-net"],
            "link_down",
        ),
        cell(Unbridged, Way::Request, qvb, &[TAP, QBR], "predicted_block"),
        cell(Unbridged, Way::Request, qvo, &[QVO], "predicted_block"),
        cell(FirewallDrop, Way::Request, qbr, &[TAP, QBR], "kernel_drop"),
        cell(FirewallDrop, Way::Reply, qbr, &[QVB, QBR], "kernel_drop"),
        cell(
            FirewallDrop,
            Way::Request,
            tapdhcp,
            &["tapdhcp"],
            "kernel_drop",
        ),
        cell(
            ServerGone,
            Way::Request,
            server,
            &["tapdhcp"],
            "server_gone",
        ),
        cell(
            ServerNotRunning,
            Way::Request,
            server,
            &["tapdhcp"],
            "server_not_running",
        ),
    ]
}

/// Runs `cell` once per ending; a fault that stays (all but a server killed after the start)
/// serves every ending on one bed.
pub fn run(cell: &Cell, endings: &[Ending]) -> Result<Vec<(i32, Value)>> {
    if cell.class == Class::ServerGone && endings.len() > 1 {
        return endings
            .iter()
            .map(|&e| run(cell, &[e]).map(|mut v| v.remove(0)))
            .collect();
    }
    let mut lab = Lab::new("fmo");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch)?;
    if cell.class != Class::ServerGone {
        inject(cell, &topo, &mut lab)?;
    }
    let libvirt = topo.libvirt_dir.to_string_lossy().to_string();
    let neutron = topo.neutron_dhcp_dir.to_string_lossy().to_string();
    let mut out = Vec::new();
    for &ending in endings {
        let name = format!("seed004-fault-{:?}-{:?}-{}", cell.class, cell.way, cell.hop)
            .to_lowercase()
            + ending.suffix();
        let journey = Journey::start(
            &mut lab,
            &name,
            &[
                "--dhcp",
                topo.vm_mac,
                "--libvirt-xml",
                &libvirt,
                "--neutron-dhcp-dir",
                &neutron,
                "--timeout",
                &ending.timeout(14),
            ],
        )?;
        if cell.class == Class::ServerGone {
            kill_server(&topo)?;
        }
        out.push(ending.finish(journey, &mut lab, &topo.vm, CLIENT_SECS));
    }
    Ok(out)
}

fn kill_server(topo: &Seed004) -> Result<()> {
    kill_all_in(&topo.qdhcp).map(drop)
}

fn inject(cell: &Cell, topo: &Seed004, lab: &mut Lab) -> Result<()> {
    let ofport = |iface: &str| topo.ovs.ofport(iface);
    let drop_flow = |bridge: &str, in_port: u32, udp: &str| -> Result<()> {
        let flow = format!("priority=10,in_port={in_port},udp,{udp},actions=drop");
        sh("ovs-ofctl", &["add-flow", bridge, &flow]).map(drop)
    };
    match (cell.class, cell.way, cell.hop) {
        (Class::OpenflowDrop, Way::Request, "br-int") => {
            drop_flow("br-int", ofport(QVO)?, "tp_dst=67")?
        }
        (Class::OpenflowDrop, Way::Request, _) => {
            drop_flow("br-eth2", ofport("phy-br-eth2")?, "tp_dst=67")?
        }
        (Class::OpenflowDrop, Way::Reply, "br-eth2") => {
            drop_flow("br-eth2", ofport("eth2")?, "tp_src=67")?
        }
        (Class::OpenflowDrop, Way::Reply, _) => {
            drop_flow("br-int", ofport("int-br-eth2")?, "tp_src=67")?
        }
        // The bridge forwards the VLAN unchanged: the translation flow is gone.
        (Class::VlanMismatch, _, bridge) => topo
            .ovs
            .replace_flows(bridge, &["priority=1,actions=NORMAL".into()])?,
        // A DHCP message is over 300 bytes.
        (Class::Mtu, _, dev) => sh("ip", &["link", "set", dev, "mtu", "300"]).map(drop)?,
        (Class::LinkDown, _, "tapdhcp") => {
            ip(&topo.qdhcp, &["link", "set", "tapdhcp", "down"]).map(drop)?
        }
        (Class::LinkDown, _, dev) => sh("ip", &["link", "set", dev, "down"]).map(drop)?,
        (Class::Unbridged, _, QVO) => topo.ovs.vsctl(&["del-port", "br-int", QVO]).map(drop)?,
        (Class::Unbridged, _, dev) => sh("ip", &["link", "set", dev, "nomaster"]).map(drop)?,
        (Class::FirewallDrop, way, QBR) => {
            let port = if way == Way::Request {
                "dport"
            } else {
                "sport"
            };
            let rules = format!(
                "add table bridge pt_fault; add chain bridge pt_fault c {{ type filter hook forward priority 0; }}; add rule bridge pt_fault c udp {port} 67 drop"
            );
            // In the host's namespace: the lab removes it, also if the cell fails.
            lab.nft_table("bridge", "pt_fault", &rules)?;
        }
        (Class::FirewallDrop, _, _) => {
            let rules = "add table inet pt_fault; add chain inet pt_fault c { type filter hook input priority 0; }; add rule inet pt_fault c udp dport 67 drop";
            in_netns(&topo.qdhcp, "nft", &[rules]).map(drop)?;
        }
        (Class::ServerNotRunning, _, _) => kill_server(topo)?,
        _ => anyhow::bail!("no injection for {:?} on {}", cell.class, cell.hop),
    }
    Ok(())
}
