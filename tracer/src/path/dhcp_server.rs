//! The DHCP server at the end of a DHCP path: the hop itself, what it should answer this MAC,
//! and what in its configuration makes it silent.

use serde::Serialize;

use super::{ExpectedPath, HopKind, PathHop};
use crate::{
    mac::Mac,
    topology::{dhcp_range, model::ServerKind, ovn_client, Topology},
};

pub fn visit(topo: &Topology, d: usize, hop: &mut PathHop) {
    let s = &topo.dhcp_servers[d];
    hop.kind = HopKind::DhcpServer;
    hop.name = s.label();
    hop.netns = Some(s.netns_name.clone());
    hop.netns_ino = Some(s.netns);
    hop.kernel_visible = false;
    // ovn-controller: the bridge whose `userspace` action hands it the packet.
    hop.bridge = s.bridge.clone();
}

#[derive(Debug, Serialize)]
pub struct DhcpExpectation {
    /// dnsmasq or ovn-controller (OVN native DHCP).
    pub kind: ServerKind,
    /// The program that answers: `dnsmasq` or `ovn-controller`.
    pub program: String,
    /// OVN: the client's logical port, whose DHCPv4 options the answer comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logical_port: Option<String>,
    /// `None`: the server is configured (a Neutron DHCP namespace) but not running.
    pub pid: Option<u32>,
    /// `dnsmasq pid N` or `dnsmasq (not running)`.
    pub label: String,
    pub netns: String,
    pub interfaces: Vec<String>,
    /// The address the host files reserve for this MAC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_ip: Option<std::net::Ipv4Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

/// The server at the end of a DHCP path: what it should answer, and what makes it silent.
pub fn expect(topo: &Topology, d: usize, mac: Mac, path: &mut ExpectedPath) {
    let d = &topo.dhcp_servers[d];
    let host = d.hosts.iter().find(|h| h.macs.contains(&mac));
    let logical_port = match d.kind {
        ServerKind::OvnController => ovn_native(topo, d, mac, path),
        ServerKind::Dnsmasq => {
            dnsmasq(topo, d, mac, path);
            None
        }
    };
    path.dhcp_server = Some(DhcpExpectation {
        kind: d.kind,
        program: d.program.clone(),
        logical_port,
        pid: d.pid,
        label: d.label(),
        netns: d.netns_name.clone(),
        interfaces: d
            .listens_on
            .iter()
            .filter_map(|k| topo.interface(*k).map(|i| i.name.clone()))
            .collect(),
        reserved_ip: host.and_then(|h| h.ip),
        hostname: host.and_then(|h| h.hostname.clone()),
    });
}

/// ovn-controller answers from the client's logical port's DHCPv4 options, if it runs. Returns
/// the logical port's name.
fn ovn_native(
    topo: &Topology,
    d: &crate::topology::DhcpServer,
    mac: Mac,
    path: &mut ExpectedPath,
) -> Option<String> {
    let bridge = d.bridge.as_deref().unwrap_or("the integration bridge");
    if d.pid.is_none() {
        path.notes.push(format!(
            "ovn-controller is not running: nothing answers DHCP sent to {bridge}"
        ));
        path.blocked_at.get_or_insert(path.hops.len());
    }
    let ovn = topo.ovn.as_ref()?;
    if ovn.controller.connected == Some(false) {
        path.notes.push(
            "ovn-controller is not connected to the Southbound database: its flows may be stale"
                .into(),
        );
    }
    let Some(client) = ovn_client::client_port(topo, mac) else {
        if ovn.northbound {
            path.notes.push(format!(
                "no OVN logical port lists {mac} or is bound to its interface: ovn-controller will not answer it"
            ));
        }
        return None;
    };
    if let Some(gap) = &client.dhcp_gap {
        path.notes.push(format!(
            "logical port {} {gap}: ovn-controller will not answer its DHCP",
            client.name
        ));
    }
    Some(client.name)
}

/// dnsmasq answers from its host entries and ranges, if it runs.
fn dnsmasq(topo: &Topology, d: &crate::topology::DhcpServer, mac: Mac, path: &mut ExpectedPath) {
    let host = d.hosts.iter().find(|h| h.macs.contains(&mac));
    if d.pid.is_none() {
        path.notes.push(format!(
            "no DHCP server runs in {}: nothing will answer{}",
            d.netns_name,
            d.config_dir.as_ref().map_or(String::new(), |dir| format!(
                " (the Neutron DHCP agent's state for it is in {dir})"
            ))
        ));
        path.blocked_at.get_or_insert(path.hops.len());
    }
    if host.is_none() {
        path.notes.push(format!(
            "{} has no host entry for {mac}: it answers only if a dynamic range covers the subnet",
            d.label()
        ));
    }
    if let Some(h) = host.filter(|h| h.ignore) {
        path.notes.push(format!(
            "{} is told to ignore {mac} ({})",
            d.label(),
            h.origin
        ));
    }
    let uncovered = dhcp_range::subnets_without_range(d, topo);
    if !uncovered.is_empty() {
        path.notes.push(format!(
            "{} has no dhcp-range in the subnet it listens on ({}): it will answer no one there",
            d.label(),
            uncovered.join(", ")
        ));
    }
}
