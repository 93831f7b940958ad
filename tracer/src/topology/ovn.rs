//! OVN as discovery found it: this chassis' side (its name, the integration bridge, bridge
//! mappings, ovn-controller), the Northbound logical network (switches, ports, DHCP options,
//! ACLs, routers) and the Southbound bindings (which chassis binds which port). Plain
//! serialisable facts, filled by `sources::ovn_*`; the lookups the path needs live here.

use std::{collections::BTreeMap, net::Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::mac::Mac;

/// The stage that drops what port security refuses in OVN before 22.06.
const LEGACY_PORT_SECURITY_STAGE: &str = "ls_in_port_sec_l2";
/// The stages that drop what port security refuses, newest first: since 22.06
/// `ls_in_check_port_sec` only marks the packet (`reg0[15]`) and `ls_in_apply_port_sec` drops
/// it.
const PORT_SECURITY_STAGES: &[&str] = &["ls_in_apply_port_sec", LEGACY_PORT_SECURITY_STAGE];

/// The integration bridge's name when `external_ids:ovn-bridge` does not say.
pub const DEFAULT_INTEGRATION_BRIDGE: &str = "br-int";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Ovn {
    /// This chassis (`external_ids:system-id` of the local Open vSwitch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chassis: Option<String>,
    /// The OVS bridge ovn-controller programs.
    pub integration_bridge: String,
    /// `physnet -> OVS bridge` (`external_ids:ovn-bridge-mappings`).
    pub bridge_mappings: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap_ip: Option<String>,
    /// The Southbound database ovn-controller is told to use (`external_ids:ovn-remote`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sb_remote: Option<String>,
    pub controller: Controller,
    /// Read from the Northbound database: `false` when it could not be reached.
    pub northbound: bool,
    /// Read from the Southbound database.
    pub southbound: bool,
    pub switches: Vec<LogicalSwitch>,
    pub routers: Vec<LogicalRouter>,
    /// Southbound `Port_Binding`s of logical ports that VMs use (VIF ports), by port name.
    pub bindings: Vec<PortBinding>,
    /// Southbound chassis: name and hostname.
    pub chassis_list: Vec<Chassis>,
    /// The logical flows that drop, in the datapaths of this host's logical ports: what an
    /// OpenFlow drop's cookie is traced back to.
    pub drop_flows: Vec<LogicalFlow>,
}

/// A Southbound logical flow (`ovn-sbctl lflow-list` prints the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogicalFlow {
    pub uuid: String,
    /// `ingress` or `egress`.
    pub pipeline: String,
    pub table: i64,
    pub priority: i64,
    #[serde(rename = "match")]
    pub matches: String,
    pub actions: String,
    /// `ls_in_acl`, `ls_in_port_sec_l2`, ... (`external_ids:stage-name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The first 8 hex digits of the Northbound row it comes from (`external_ids:stage-hint`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl LogicalFlow {
    /// Whether logical actions drop the packet (`drop;`, `reject {...};`).
    pub fn drops(actions: &str) -> bool {
        let a = actions.trim_start();
        a.contains("drop;") || a.contains("/* drop */") || a.starts_with("reject")
    }

    /// Whether this is the flow an OpenFlow rule with `cookie` (`0x...`) was compiled from:
    /// ovn-controller sets the cookie to the first 32 bits of the logical flow's uuid.
    pub fn has_cookie(&self, cookie: &str) -> bool {
        let Ok(c) = u64::from_str_radix(cookie.trim_start_matches("0x"), 16) else {
            return false;
        };
        u32::from_str_radix(self.uuid.get(..8).unwrap_or_default(), 16)
            .is_ok_and(|u| u64::from(u) == c)
    }
}

/// ovn-controller on this host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Controller {
    /// `None`: not running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Whether it is connected to the Southbound database (`connection-status`), when it runs
    /// and could be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
    /// Processes named ovn-controller that are not root's (not trusted, not used).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogicalSwitch {
    pub name: String,
    pub uuid: String,
    pub ports: Vec<LogicalSwitchPort>,
    /// The switch's own ACLs and those of port groups holding one of its ports.
    pub acls: Vec<Acl>,
    /// Control-plane protection: the meters on what the switch hands to ovn-controller.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copp: Vec<CoppMeter>,
}

/// A CoPP meter: packets of `protocol` (`dhcpv4-opts`, `arp`, ...) handed to ovn-controller
/// beyond `rate` per second (`unit`: `pktps` or `kbps`), after a burst of `burst`, are dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoppMeter {
    pub protocol: String,
    pub meter: String,
    pub unit: String,
    pub rate: i64,
    pub burst: i64,
}

/// The CoPP protocol of DHCPv4 requests handed to ovn-controller (`put_dhcp_opts`).
pub const COPP_DHCPV4: &str = "dhcpv4-opts";

/// `Logical_Switch_Port.type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortType {
    /// `""`: a VM's (or a pod's) interface, bound where its `iface-id` is.
    Vif,
    Router,
    Localnet,
    Localport,
    External,
    Virtual,
    Other(String),
}

impl PortType {
    pub fn from_nb(t: &str) -> Self {
        match t {
            "" => Self::Vif,
            "router" => Self::Router,
            "localnet" => Self::Localnet,
            "localport" => Self::Localport,
            "external" => Self::External,
            "virtual" => Self::Virtual,
            other => Self::Other(other.to_string()),
        }
    }

    /// The NB `type` value (`""` for a VIF).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Vif => "",
            Self::Router => "router",
            Self::Localnet => "localnet",
            Self::Localport => "localport",
            Self::External => "external",
            Self::Virtual => "virtual",
            Self::Other(t) => t,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogicalSwitchPort {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: PortType,
    /// `MAC [IP...]`, `dynamic`, `router` or `unknown`, as set.
    pub addresses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_addresses: Option<String>,
    /// `MAC [IP...]` entries; empty: anything is allowed.
    pub port_security: Vec<String>,
    /// The DHCPv4 options ovn-controller answers with; `None`: it does not answer this port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcpv4: Option<DhcpOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<u16>,
    /// `false`: administratively disabled (`enabled` column); `None`: not set (enabled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up: Option<bool>,
    pub options: BTreeMap<String, String>,
}

impl LogicalSwitchPort {
    /// The MACs and IPv4 addresses of `addresses` (and `dynamic_addresses`).
    pub fn macs_and_ips(&self) -> Vec<(Mac, Vec<Ipv4Addr>)> {
        self.addresses
            .iter()
            .chain(&self.dynamic_addresses)
            .filter_map(|a| address_entry(a))
            .collect()
    }

    pub fn has_mac(&self, mac: Mac) -> bool {
        self.macs_and_ips().iter().any(|(m, _)| *m == mac)
    }

    /// Whether `port_security` lets frames from `mac` in (empty: no check).
    pub fn allows_mac(&self, mac: Mac) -> bool {
        self.port_security.is_empty()
            || self
                .port_security
                .iter()
                .filter_map(|e| address_entry(e))
                .any(|(m, _)| m == mac)
    }

    pub fn is_disabled(&self) -> bool {
        self.enabled == Some(false)
    }
}

/// `"MAC IP/PLEN IP ..."` -> the MAC and its IPv4 addresses (prefix lengths dropped).
fn address_entry(entry: &str) -> Option<(Mac, Vec<Ipv4Addr>)> {
    let mut words = entry.split_whitespace();
    let mac: Mac = words.next()?.parse().ok()?;
    let ips = words
        .filter_map(|w| w.split('/').next()?.parse().ok())
        .collect();
    Some((mac, ips))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpOptions {
    pub cidr: String,
    /// `server_id`, `router`, `lease_time`, `server_mac`, ...
    pub options: BTreeMap<String, String>,
}

impl DhcpOptions {
    /// The options OVN requires before it answers at all (`ovn-nb(5)`).
    pub fn missing_required(&self) -> Vec<&'static str> {
        ["server_id", "server_mac", "lease_time"]
            .into_iter()
            .filter(|k| !self.options.contains_key(*k))
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    pub uuid: String,
    pub priority: i64,
    /// `from-lport` or `to-lport`.
    pub direction: String,
    #[serde(rename = "match")]
    pub matches: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The port group it is applied through, if not the switch itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_group: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogicalRouter {
    pub name: String,
    pub uuid: String,
    /// `false`: disabled (`enabled` column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    pub ports: Vec<LogicalRouterPort>,
    pub static_routes: Vec<StaticRoute>,
    pub nat: Vec<Nat>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogicalRouterPort {
    pub name: String,
    pub mac: String,
    /// `IP/PLEN`.
    pub networks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StaticRoute {
    pub ip_prefix: String,
    pub nexthop: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_port: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Nat {
    #[serde(rename = "type")]
    pub kind: String,
    pub external_ip: String,
    pub logical_ip: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    pub logical_port: String,
    /// The chassis that binds it, by name; `None`: unbound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chassis: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chassis {
    pub name: String,
    pub hostname: String,
    /// `type:ip` of each tunnel endpoint.
    pub encaps: Vec<String>,
}

/// Why OVN's native DHCP does not answer a logical port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DhcpGap {
    /// The port has no `dhcpv4_options`: no `put_dhcp_opts` flow exists for it.
    NoOptions,
    /// Its DHCP_Options lack options OVN requires before it answers.
    Incomplete { missing: Vec<&'static str> },
}

impl std::fmt::Display for DhcpGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoOptions => f.write_str("has no DHCPv4 options (dhcpv4_options is empty)"),
            Self::Incomplete { missing } => write!(
                f,
                "has DHCPv4 options without {}, which OVN requires",
                missing.join(", ")
            ),
        }
    }
}

/// Where a logical switch port is: indexes into `switches` and its `ports`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRef {
    pub switch: usize,
    pub port: usize,
}

impl Ovn {
    pub fn port(&self, r: PortRef) -> &LogicalSwitchPort {
        &self.switches[r.switch].ports[r.port]
    }

    /// The logical switch port named `name` (an OVS interface's `iface-id`).
    pub fn port_named(&self, name: &str) -> Option<PortRef> {
        self.switches.iter().enumerate().find_map(|(si, s)| {
            s.ports
                .iter()
                .position(|p| p.name == name)
                .map(|pi| PortRef {
                    switch: si,
                    port: pi,
                })
        })
    }

    /// The VIF logical switch port whose addresses give `mac`.
    pub fn port_with_mac(&self, mac: Mac) -> Option<PortRef> {
        self.switches.iter().enumerate().find_map(|(si, s)| {
            s.ports
                .iter()
                .position(|p| p.kind == PortType::Vif && p.has_mac(mac))
                .map(|pi| PortRef {
                    switch: si,
                    port: pi,
                })
        })
    }

    /// Why ovn-controller would not answer DHCP from the port `r`, if something says so.
    pub fn dhcp_gap(&self, r: PortRef) -> Option<DhcpGap> {
        let p = self.port(r);
        match &p.dhcpv4 {
            None => Some(DhcpGap::NoOptions),
            Some(o) => {
                let missing = o.missing_required();
                (!missing.is_empty()).then_some(DhcpGap::Incomplete { missing })
            }
        }
    }

    /// The logical drop flow an OpenFlow rule with `cookie` comes from.
    pub fn drop_flow(&self, cookie: &str) -> Option<&LogicalFlow> {
        self.drop_flows.iter().find(|f| f.has_cookie(cookie))
    }

    /// The ingress stage that drops what port security refuses, as this OVN's logical flows
    /// name it: `ls_in_apply_port_sec` since OVN 22.06, `ls_in_port_sec_l2` before (also the
    /// answer when the flows were not read).
    pub fn port_security_stage(&self) -> String {
        let has = |stage: &str| {
            self.drop_flows
                .iter()
                .any(|f| f.pipeline == "ingress" && f.stage.as_deref() == Some(stage))
        };
        PORT_SECURITY_STAGES
            .iter()
            .find(|s| has(s))
            .unwrap_or(&LEGACY_PORT_SECURITY_STAGE)
            .to_string()
    }

    /// The ACL a logical flow's stage-hint names.
    pub fn acl_hinted(&self, hint: &str) -> Option<&Acl> {
        self.switches
            .iter()
            .flat_map(|s| &s.acls)
            .find(|a| a.uuid.starts_with(hint))
    }

    pub fn binding(&self, port: &str) -> Option<&PortBinding> {
        self.bindings.iter().find(|b| b.logical_port == port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(addresses: &[&str], port_security: &[&str]) -> LogicalSwitchPort {
        LogicalSwitchPort {
            name: "p".into(),
            kind: PortType::Vif,
            addresses: addresses.iter().map(|s| s.to_string()).collect(),
            dynamic_addresses: None,
            port_security: port_security.iter().map(|s| s.to_string()).collect(),
            dhcpv4: None,
            tag: None,
            enabled: None,
            up: None,
            options: BTreeMap::new(),
        }
    }

    #[test]
    fn cookies_name_their_logical_flow() {
        let flow = LogicalFlow {
            uuid: "ff02122b-1c2d-4e5f-8a9b-0c1d2e3f4a5b".into(),
            pipeline: "ingress".into(),
            table: 8,
            priority: 2002,
            matches: "udp.dst == 67".into(),
            actions: "drop;".into(),
            stage: Some("ls_in_acl".into()),
            hint: Some("6f3b2c1d".into()),
        };
        assert!(flow.has_cookie("0xff02122b"));
        assert!(!flow.has_cookie("0xff02122c"));
        assert!(!flow.has_cookie("garbage"));
        assert!(LogicalFlow::drops("drop;"));
        assert!(LogicalFlow::drops("/* drop */"));
        assert!(LogicalFlow::drops(
            "reject { outport <-> inport; next(pipeline=egress,table=5);};"
        ));
        assert!(!LogicalFlow::drops("next;"));
    }

    #[test]
    fn addresses_and_port_security() {
        let mac: Mac = "fa:16:3e:00:00:01".parse().unwrap();
        let other: Mac = "fa:16:3e:00:00:02".parse().unwrap();
        let p = port(&["fa:16:3e:00:00:01 10.0.0.5 fd00::5"], &[]);
        assert_eq!(p.macs_and_ips(), [(mac, vec![Ipv4Addr::new(10, 0, 0, 5)])]);
        assert!(p.allows_mac(other), "no port security: anything goes");
        let p = port(
            &["fa:16:3e:00:00:01 10.0.0.5"],
            &["fa:16:3e:00:00:02 10.0.0.9/32"],
        );
        assert!(!p.allows_mac(mac));
        assert!(p.allows_mac(other));
        let p = port(&["dynamic", "router", "unknown", "garbage 1.2.3.4"], &[]);
        assert!(p.macs_and_ips().is_empty());
    }
}
