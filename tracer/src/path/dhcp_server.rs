//! The DHCP server at the end of a DHCP path: the hop itself, what it should answer this MAC,
//! and what in its configuration makes it silent.

use serde::Serialize;

use super::{ExpectedPath, HopKind, PathHop};
use crate::{
    mac::Mac,
    topology::{dhcp_range, Topology},
};

pub fn visit(topo: &Topology, d: usize, hop: &mut PathHop) {
    let s = &topo.dhcp_servers[d];
    hop.kind = HopKind::DhcpServer;
    hop.name = s.label();
    hop.netns = Some(s.netns_name.clone());
    hop.netns_ino = Some(s.netns);
    hop.kernel_visible = false;
}

#[derive(Debug, Serialize)]
pub struct DhcpExpectation {
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
    path.dhcp_server = Some(DhcpExpectation {
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
