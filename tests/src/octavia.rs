//! Seed 002's Octavia management network on one OVN chassis: a pod (a namespace) on the Linux
//! bridge `octbr`, which also holds the VLAN 24 sub-interface of the node's NIC and the
//! `octavia` network attachment of the Open vSwitch pod (a veth to the provider bridge that
//! `ovn-bridge-mappings` maps the physical network `octavia` to). In OVN: the provider switch
//! `octavia-provider-net` with its localnet port, the logical router `octavia-link-router`
//! (its gateway port on this chassis) and the tenant switch `lb-mgmt-net` of the amphora, a
//! namespace on br-int. Addresses and routes as the seed's network attachment and subnets
//! give them. Guest (VM) only.

use anyhow::Result;

use crate::{
    cmd::{ip, run},
    ovn::{OvnChassis, CHASSIS},
    Lab,
};

pub const PROVIDER_SWITCH: &str = "octavia-provider-net";
pub const TENANT_SWITCH: &str = "lb-mgmt-net";
pub const ROUTER: &str = "octavia-link-router";
/// The router's port on the provider network (its external gateway).
pub const ROUTER_PROVIDER_PORT: &str = "lrp-octavia-provider";
/// The router's port on the tenant network (`lb-mgmt-router-port`'s peer).
pub const ROUTER_TENANT_PORT: &str = "lrp-lb-mgmt";
pub const AMPHORA_PORT: &str = "amphora-port";
pub const PHYSNET: &str = "octavia";
pub const PROVIDER_BRIDGE: &str = "br-octavia";
pub const POD_MAC: &str = "0a:00:00:00:23:1e";
pub const POD_IP: &str = "172.23.0.30";
pub const AMPHORA_MAC: &str = "0a:00:00:00:24:05";
pub const AMPHORA_IP: &str = "172.24.0.5";
const ROUTER_PROVIDER_MAC: &str = "0a:00:00:00:23:96";
const ROUTER_PROVIDER_IP: &str = "172.23.0.150";
const ROUTER_TENANT_MAC: &str = "0a:00:00:00:24:59";
const ROUTER_TENANT_IP: &str = "172.24.1.89";
/// The VLAN of the sub-interface on `octbr` (`enp6s0.24`).
const VLAN: &str = "24";

pub struct Octavia {
    pub ovn: OvnChassis,
    pub pod: String,
    pub amphora: String,
    /// The Linux bridge (`octbr`, lab-prefixed).
    pub octbr: String,
}

impl Octavia {
    pub fn build(lab: &mut Lab) -> Result<Self> {
        let mut ovn = OvnChassis::start(lab)?;
        let pod = lab.netns("pod")?;
        let tag = crate::ovn::lab_tag(&pod);
        let octbr = format!("{tag}-octbr");
        let nic = format!("{tag}-nic");
        let vlan = format!("{tag}-nic.{VLAN}");
        let attach = format!("{tag}-att");
        let attach_br = format!("{tag}-attb");
        let pod_host = format!("{tag}-pod");
        // The node's NIC: a veth whose far end lives in a lab namespace (the switch port).
        let wire = lab.netns("wire")?;
        run(
            "ip",
            &[
                "link", "add", &nic, "type", "veth", "peer", "name", "eth0", "netns", &wire,
            ],
        )?;
        lab.host_link(&nic);
        run(
            "ip",
            &[
                "link", "add", "link", &nic, "name", &vlan, "type", "vlan", "id", VLAN,
            ],
        )?;
        run("ip", &["link", "add", &octbr, "type", "bridge"])?;
        lab.host_link(&octbr);
        run(
            "ip",
            &[
                "link", "add", &pod_host, "type", "veth", "peer", "name", "eth0", "netns", &pod,
                "address", POD_MAC,
            ],
        )?;
        lab.host_link(&pod_host);
        run(
            "ip",
            &[
                "link", "add", &attach, "type", "veth", "peer", "name", &attach_br,
            ],
        )?;
        lab.host_link(&attach);
        for port in [&vlan, &pod_host, &attach_br] {
            run("ip", &["link", "set", port, "master", &octbr])?;
        }
        for l in [&nic, &vlan, &octbr, &pod_host, &attach, &attach_br] {
            run("ip", &["link", "set", l, "up"])?;
        }
        ip(&wire, &["link", "set", "eth0", "up"])?;
        ip(&pod, &["link", "set", "eth0", "up"])?;
        ip(
            &pod,
            &["addr", "add", &format!("{POD_IP}/24"), "dev", "eth0"],
        )?;
        ip(
            &pod,
            &["route", "add", "172.24.0.0/16", "via", ROUTER_PROVIDER_IP],
        )?;
        ovn.ovs.bridge(PROVIDER_BRIDGE)?;
        ovn.ovs.add_port(PROVIDER_BRIDGE, &attach, &[])?;
        ovn.ovs.vsctl(&[
            "set",
            "open",
            ".",
            &format!("external_ids:ovn-bridge-mappings={PHYSNET}:{PROVIDER_BRIDGE}"),
        ])?;
        Self::logical_network(&ovn)?;
        let amphora = ovn.vm(lab, "amp", AMPHORA_MAC, AMPHORA_PORT)?;
        ip(
            &amphora,
            &["addr", "add", &format!("{AMPHORA_IP}/16"), "dev", "eth0"],
        )?;
        ip(
            &amphora,
            &["route", "add", "172.23.0.0/24", "via", ROUTER_TENANT_IP],
        )?;
        ovn.sync()?;
        // One ping first, as on a network in use: the router has learned both sides' MACs (its
        // MAC bindings), so a traced packet is not held by ovn-controller's ARP resolution.
        crate::cmd::run(
            "ip",
            &[
                "netns", "exec", &pod, "ping", "-c", "1", "-W", "5", AMPHORA_IP,
            ],
        )?;
        Ok(Self {
            ovn,
            pod,
            amphora,
            octbr,
        })
    }

    /// The provider and tenant switches, the router between them (its provider port scheduled
    /// on this chassis, as Neutron does a router's external gateway) and the amphora's port.
    fn logical_network(ovn: &OvnChassis) -> Result<()> {
        let nb = |args: &[&str]| ovn.nbctl(args).map(drop);
        nb(&["ls-add", PROVIDER_SWITCH])?;
        let provnet = "provnet-octavia";
        nb(&["lsp-add", PROVIDER_SWITCH, provnet])?;
        nb(&["lsp-set-type", provnet, "localnet"])?;
        nb(&["lsp-set-addresses", provnet, "unknown"])?;
        nb(&[
            "lsp-set-options",
            provnet,
            &format!("network_name={PHYSNET}"),
        ])?;
        nb(&["lr-add", ROUTER])?;
        nb(&[
            "lrp-add",
            ROUTER,
            ROUTER_PROVIDER_PORT,
            ROUTER_PROVIDER_MAC,
            &format!("{ROUTER_PROVIDER_IP}/24"),
        ])?;
        nb(&[
            "lrp-set-gateway-chassis",
            ROUTER_PROVIDER_PORT,
            CHASSIS,
            "1",
        ])?;
        router_port(
            &nb,
            PROVIDER_SWITCH,
            "provider-router-port",
            ROUTER_PROVIDER_PORT,
        )?;
        nb(&["ls-add", TENANT_SWITCH])?;
        nb(&[
            "lrp-add",
            ROUTER,
            ROUTER_TENANT_PORT,
            ROUTER_TENANT_MAC,
            &format!("{ROUTER_TENANT_IP}/16"),
        ])?;
        router_port(
            &nb,
            TENANT_SWITCH,
            "lb-mgmt-router-port",
            ROUTER_TENANT_PORT,
        )?;
        nb(&["lsp-add", TENANT_SWITCH, AMPHORA_PORT])?;
        nb(&[
            "lsp-set-addresses",
            AMPHORA_PORT,
            &format!("{AMPHORA_MAC} {AMPHORA_IP}"),
        ])
    }

    /// Disables a port of the router (`enabled=false`, what Neutron sets for a port whose
    /// `admin_state_up` is false) and waits for this chassis to have the flows.
    pub fn disable_router_port(&self, port: &str) -> Result<()> {
        self.ovn
            .nbctl(&["set", "Logical_Router_Port", port, "enabled=false"])?;
        self.ovn.sync()
    }
}

/// A router-type port of `switch` patched to router port `lrp`.
fn router_port(
    nb: &impl Fn(&[&str]) -> Result<()>,
    switch: &str,
    name: &str,
    lrp: &str,
) -> Result<()> {
    nb(&["lsp-add", switch, name])?;
    nb(&["lsp-set-type", name, "router"])?;
    nb(&["lsp-set-addresses", name, "router"])?;
    nb(&["lsp-set-options", name, &format!("router-port={lrp}")])
}
