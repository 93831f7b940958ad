//! Neutron's DHCP agent state, for networks whose dnsmasq is not running. The agent keeps one
//! directory per network (`/var/lib/neutron/dhcp/<network-id>/`) holding the `host` file it
//! feeds dnsmasq, the `interface` dnsmasq binds to and the `pid` file, and one namespace
//! `qdhcp-<network-id>`. Both outlive a dead dnsmasq, so pathtrace can still say where the
//! server should have been and which address it would have handed out.

use std::path::Path;

use super::{dnsmasq, untrusted};
use crate::topology::model::HostEntry;

/// Where the Neutron DHCP agent keeps its per-network state by default.
pub const DEFAULT_DIR: &str = "/var/lib/neutron/dhcp";

/// The network id of a Neutron DHCP namespace (`qdhcp-<network-id>`).
pub fn network_of(netns_name: &str) -> Option<&str> {
    netns_name
        .strip_prefix("qdhcp-")
        // A network id is a UUID: nothing in it may walk out of the agent's directory.
        .filter(|id| {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// What the agent's state directory says about one network.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NetworkState {
    /// The state directory, if it exists.
    pub dir: Option<String>,
    /// The interface dnsmasq binds to (the `interface` file).
    pub interface: Option<String>,
    pub hostsfile: Option<String>,
    pub hosts: Vec<HostEntry>,
    /// The pid in the `pid` file: the dnsmasq that ran last.
    pub last_pid: Option<u32>,
    pub problems: Vec<String>,
}

/// Reads `<dir>/<network>/{interface,host,pid}`; missing files are simply absent facts.
pub fn read(dir: &Path, network: &str) -> NetworkState {
    let net_dir = dir.join(network);
    let mut state = NetworkState::default();
    if !net_dir.is_dir() {
        return state;
    }
    state.dir = Some(net_dir.display().to_string());
    // Inside the agent's directory only, regular files of bounded size only.
    let read = |name: &str| untrusted::read_in_root(dir, &format!("{network}/{name}")).ok();
    state.interface = read("interface")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    state.last_pid = read("pid").and_then(|s| s.trim().parse().ok());
    let host = net_dir.join("host");
    if let Some(text) = read("host") {
        let file = host.display().to_string();
        match dnsmasq::parse_hostsfile(&text, &file) {
            Ok(h) => state.hosts = h,
            Err(e) => state.problems.push(format!("{e:#}")),
        }
        state.hostsfile = Some(file);
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_id_from_namespace_name() {
        assert_eq!(
            network_of("qdhcp-5f83a0c2-1b7e-4f0e-9d57-0c3a4f1f3b11"),
            Some("5f83a0c2-1b7e-4f0e-9d57-0c3a4f1f3b11")
        );
        assert_eq!(network_of("qdhcp-"), None);
        assert_eq!(network_of("qrouter-5f83"), None);
        assert_eq!(network_of("qdhcp-.."), None);
        assert_eq!(network_of("qdhcp-a/../b"), None);
    }

    #[test]
    fn reads_the_agent_files_of_one_network() {
        let dir = std::env::temp_dir().join(format!("pt-neutron-{}", std::process::id()));
        let net = dir.join("5f83");
        std::fs::create_dir_all(&net).unwrap();
        // As the agent writes them (seed 004's network).
        std::fs::write(net.join("interface"), "tap26c9b807-7c\n").unwrap();
        std::fs::write(net.join("pid"), "4242\n").unwrap();
        std::fs::write(
            net.join("host"),
            "fa:16:3e:fe:c7:87,host-10-10-10-2.openstacklocal,10.10.10.2\n",
        )
        .unwrap();
        let state = read(&dir, "5f83");
        let missing = read(&dir, "other");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(state.interface.as_deref(), Some("tap26c9b807-7c"));
        assert_eq!(state.last_pid, Some(4242));
        assert_eq!(state.hosts.len(), 1);
        assert_eq!(state.hosts[0].ip, Some("10.10.10.2".parse().unwrap()));
        assert!(state.problems.is_empty());
        assert_eq!(missing, NetworkState::default());
    }
}
