//! What discovery found, source by source, in plain serialisable types. The JSON form of
//! [`Topology`] is the stable output of `pathtrace topology --format json` (documented in the
//! README); fields are only ever added. The sources fill these types; the graph over them is
//! derived in [`super::graph`], never stored here.

use std::{collections::BTreeMap, net::Ipv4Addr};

use serde::{Deserialize, Serialize};

use super::{
    bond::{LinuxBond, OvsBond},
    routing::{Neighbour, Route},
};
use crate::mac::Mac;

/// `default`: a recorded topology from an older pathtrace lacks newer fields.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Topology {
    /// Every network namespace, the host's own first.
    pub namespaces: Vec<Namespace>,
    /// Every link of every namespace.
    pub interfaces: Vec<Interface>,
    /// Open vSwitch bridges with their ports and OpenFlow tables.
    pub ovs_bridges: Vec<OvsBridge>,
    /// libvirt domains (VMs) and their NICs.
    pub vms: Vec<Vm>,
    /// DHCP servers (dnsmasq processes, ovn-controller's native DHCP) and their host entries.
    pub dhcp_servers: Vec<DhcpServer>,
    /// OVN's logical network and this chassis' part in it, when the host runs OVN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ovn: Option<super::ovn::Ovn>,
    /// What each source found, or why it was skipped.
    pub sources: Vec<SourceReport>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Namespace {
    /// nsfs inode, what `lsns -t net` prints and what the probes report.
    pub ino: u32,
    /// `ip netns` name, `root` for pathtrace's own, `pid:N` for one only a process holds.
    pub name: String,
    /// Its main routing table (unicast routes), for where a routed packet leaves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Its resolved neighbour (ARP/NDP) entries, for which MAC an address is at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub neighbours: Vec<Neighbour>,
}

/// Identifies a link across the whole host: ifindexes repeat in every namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IfaceKey {
    pub netns: u32,
    pub ifindex: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Loopback,
    /// No rtnetlink kind: a real NIC (or a driver that reports none).
    Physical,
    Veth,
    Bridge,
    Tun,
    Tap,
    Vlan,
    Vxlan,
    Geneve,
    Macvlan,
    /// An Open vSwitch internal port or the `ovs-system` datapath device.
    Openvswitch,
    Dummy,
    Bond,
    Other,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Interface {
    #[serde(flatten)]
    pub key: IfaceKey,
    pub netns_name: String,
    pub name: String,
    pub kind: LinkKind,
    /// The rtnetlink kind string when [`LinkKind::Other`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
    pub mtu: u32,
    pub oper_state: OperState,
    /// Administratively up (IFF_UP).
    pub admin_up: bool,
    /// The bridge (Linux bridge or `ovs-system`) this link is a port of, same namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<IfaceKey>,
    /// veth: the other end; vlan/macvlan/vxlan: the lower device. Resolved across namespaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<IfaceKey>,
    /// VLAN id of a VLAN sub-interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan_id: Option<u16>,
    /// VNI of a vxlan or geneve device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vni: Option<u32>,
    /// `ADDRESS/PREFIX`, IPv4 and IPv6.
    pub addresses: Vec<String>,
    /// A Linux bridge that filters by VLAN (`vlan_filtering 1`): its ports (and its own
    /// interface) pass only the VLANs in their `bridge_vlans`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vlan_filtering: bool,
    /// The VLANs of a Linux bridge port, or of the bridge's own interface (`bridge vlan
    /// show`), as the kernel keeps them whether or not the bridge filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_vlans: Option<BridgeVlans>,
    /// A Linux bond device's mode and active member (its members have it as `master`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond: Option<LinuxBond>,
}

/// One port's VLAN table on a VLAN-filtering Linux bridge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeVlans {
    /// The VLAN untagged frames arriving on the port are put in; none: they are dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pvid: Option<u16>,
    /// Every VLAN the port carries, in both directions.
    pub vids: Vec<u16>,
    /// Those it sends untagged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub untagged: Vec<u16>,
}

/// A link's operational state (RFC 2863, as rtnetlink reports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperState {
    Up,
    Down,
    /// Down because the link it depends on is (a veth whose peer is down).
    LowerLayerDown,
    Dormant,
    NotPresent,
    Testing,
    /// What tun/tap and OVS ports without carrier report; they pass packets.
    #[serde(other)]
    Unknown,
}

impl OperState {
    /// Down, by itself or through the link it depends on.
    pub fn is_down(self) -> bool {
        matches!(self, Self::Down | Self::LowerLayerDown)
    }

    /// A state in which the link passes packets.
    pub fn passes(self) -> bool {
        matches!(self, Self::Up | Self::Unknown)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::LowerLayerDown => "lower_layer_down",
            Self::Dormant => "dormant",
            Self::NotPresent => "not_present",
            Self::Testing => "testing",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for OperState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OvsBridge {
    pub name: String,
    /// `system` (kernel datapath) or `netdev` (userspace, DPDK).
    pub datapath_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_mode: Option<String>,
    pub ports: Vec<OvsPort>,
    /// Table entries as `ovs-ofctl dump-flows` reports them; empty if they could not be read.
    pub flows: Vec<Flow>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OvsPort {
    pub name: String,
    /// Access VLAN (`tag`): untagged on the port, this VLAN inside the bridge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<u16>,
    /// VLANs a trunk port carries; empty means all.
    pub trunks: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan_mode: Option<String>,
    pub interfaces: Vec<OvsInterface>,
    /// A port with several interfaces is a bond: its mode, LACP and active member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bond: Option<OvsBond>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OvsInterface {
    pub name: String,
    /// `""`/`system` (a netdev), `internal`, `patch`, `geneve`, `vxlan`, `gre`, `dpdk`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// OpenFlow port number; `None` until OVS assigned one (or -1: it failed to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ofport: Option<i64>,
    pub options: BTreeMap<String, String>,
    pub external_ids: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_in_use: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_state: Option<String>,
    /// `error` column: why OVS could not open the interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The kernel link backing this interface (none for patch ports and tunnels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netdev: Option<IfaceKey>,
}

impl OvsInterface {
    pub fn is_patch(&self) -> bool {
        self.kind == "patch"
    }

    /// A tunnel port: OVS encapsulates what it sends there.
    pub fn is_tunnel(&self) -> bool {
        matches!(self.kind.as_str(), "geneve" | "vxlan" | "gre" | "stt")
    }

    /// A tunnel port's `remote_ip` (none: not a tunnel, or one whose remote each flow sets).
    pub fn tunnel_remote_ip(&self) -> Option<&str> {
        self.is_tunnel()
            .then(|| self.options.get("remote_ip").map(String::as_str))
            .flatten()
    }

    pub fn patch_peer(&self) -> Option<&str> {
        self.is_patch()
            .then(|| self.options.get("peer").map(String::as_str))
            .flatten()
    }

    pub fn attached_mac(&self) -> Option<Mac> {
        self.external_ids.get("attached-mac")?.parse().ok()
    }
}

/// One OpenFlow table entry, as `ovs-ofctl dump-flows` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub table: u8,
    pub priority: u16,
    /// `n_packets` when the dump had statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_packets: Option<u64>,
    pub cookie: String,
    /// Match fields in order, `(name, value)`; value is empty for flags such as `udp`.
    pub matches: Vec<(String, String)>,
    pub actions: Vec<Action>,
    /// The line as ovs-ofctl printed it, minus statistics: what users grep for.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action", content = "arg")]
pub enum Action {
    /// L2 learning switch behaviour (`NORMAL`).
    Normal,
    Flood,
    All,
    Local,
    InPort,
    Output(String),
    /// Explicit `drop`, or an empty action list.
    Drop,
    /// `mod_vlan_vid:N` or `set_field:N->vlan_vid` (CFI bit removed).
    SetVlan(u16),
    /// `strip_vlan` / `pop_vlan`.
    StripVlan,
    /// `push_vlan:ETHERTYPE`.
    PushVlan(String),
    /// `resubmit(PORT,TABLE)` / `resubmit:PORT`; `None` means "same".
    Resubmit {
        port: Option<String>,
        table: Option<u8>,
    },
    /// `goto_table:N`.
    GotoTable(u8),
    Controller(String),
    /// Anything pathtrace does not model (learn, ct, load, ...), as printed.
    Other(String),
}

impl Flow {
    #[cfg(test)]
    pub fn get(&self, field: &str) -> Option<&str> {
        self.matches
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
    }
}

/// One `dhcp-host` entry (host file line or `--dhcp-host` option).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEntry {
    pub macs: Vec<Mac>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_time: Option<String>,
    /// `ignore`: dnsmasq will not answer this client at all.
    pub ignore: bool,
    /// Where it came from, `FILE:LINE` or `command line`.
    pub origin: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Vm {
    pub name: String,
    pub uuid: String,
    /// Where the XML was read from.
    pub source: String,
    pub nics: Vec<VmNic>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VmNic {
    pub mac: Mac,
    /// libvirt interface type: `bridge`, `network`, `ethernet`, `vhostuser`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `<target dev>`: the host-side tap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_dev: Option<String>,
    /// `<source bridge>` (or network name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// `<virtualport type='openvswitch'><parameters interfaceid=...>`: the Neutron port id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_id: Option<String>,
    /// The tap link in the host, when it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netdev: Option<IfaceKey>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DhcpServer {
    /// dnsmasq, or ovn-controller answering from OVN's logical flows.
    #[serde(default)]
    pub kind: ServerKind,
    /// The OVS bridge whose flows send DHCP to the server (ovn-controller's integration bridge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// `None`: configured but not running (a Neutron `qdhcp-` namespace whose dnsmasq is
    /// down), so a path can still end where the server should be listening.
    pub pid: Option<u32>,
    pub program: String,
    /// Neutron's per-network state directory this server's configuration came from, when
    /// it was read from there rather than from a running process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_dir: Option<String>,
    pub netns: u32,
    pub netns_name: String,
    /// `--interface` values; empty means every interface of the namespace.
    pub interfaces: Vec<String>,
    /// Links of the namespace the server listens on.
    pub listens_on: Vec<IfaceKey>,
    /// `--dhcp-range` values as given.
    pub ranges: Vec<String>,
    /// Host files read (`--dhcp-hostsfile`), with what they said.
    pub hostsfiles: Vec<String>,
    pub hosts: Vec<HostEntry>,
    /// Host files that could not be read or parsed, with the reason.
    pub problems: Vec<String>,
}

/// What kind of program answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// dnsmasq listening on the links of its namespace.
    #[default]
    Dnsmasq,
    /// OVN native DHCP: the integration bridge sends DHCP to ovn-controller (a `controller`
    /// action), which builds the reply and injects it back; nothing listens on a link.
    OvnController,
}

impl DhcpServer {
    /// `dnsmasq pid 42`, or `dnsmasq (not running)`.
    pub fn label(&self) -> String {
        match self.pid {
            Some(pid) => format!("{} pid {pid}", self.program),
            None => format!("{} (not running)", self.program),
        }
    }

    /// A stable id for graphs: the pid, or the namespace of a server that is not running.
    pub fn id(&self) -> String {
        match self.pid {
            Some(pid) => pid.to_string(),
            None => format!("{}:down", self.netns_name),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SourceReport {
    pub source: String,
    pub status: SourceStatus,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    /// The source was read.
    Found,
    /// Nothing of that kind on this host (no OVS, no libvirt): not an error.
    Absent,
    /// The source exists but could not be read; discovery went on without it.
    Failed,
}

impl Topology {
    pub fn interface(&self, key: IfaceKey) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.key == key)
    }

    /// (bridge, port) indexes of the OVS port whose interface is named `iface`.
    pub fn ovs_port_of(&self, iface: &str) -> Option<(usize, usize)> {
        self.ovs_bridges.iter().enumerate().find_map(|(bi, b)| {
            b.ports
                .iter()
                .position(|p| p.interfaces.iter().any(|i| i.name == iface))
                .map(|pi| (bi, pi))
        })
    }

    pub fn netns_name(&self, ino: u32) -> String {
        self.namespaces
            .iter()
            .find(|n| n.ino == ino)
            .map(|n| n.name.clone())
            .unwrap_or_else(|| format!("netns:[{ino}]"))
    }

    pub fn report(&mut self, source: &'static str, status: SourceStatus, detail: String) {
        self.sources.push(SourceReport {
            source: source.into(),
            status,
            detail,
        });
    }
}
