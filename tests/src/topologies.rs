//! Topologies shared by the tests and the demo, named after what they model.

use anyhow::Result;

use crate::{
    dhcp::{start_dnsmasq, DhcpServerConfig},
    Lab,
};

/// Two hosts on a Linux bridge: a DHCP client and a dnsmasq server, each in its own namespace,
/// joined through veth pairs to a bridge in a third ("switch") namespace.
///
/// ```text
///  [client] eth0 ── c0 ┐                ┌ s0 ── eth0 [server: dnsmasq 10.77.0.1]
///                      └── br0 [switch] ┘
/// ```
pub struct DhcpOnBridge {
    pub client: String,
    pub switch: String,
    pub server: String,
    pub client_mac: String,
    /// The address dnsmasq's host file reserves for the client.
    pub reserved_ip: &'static str,
}

impl DhcpOnBridge {
    pub fn build(lab: &mut Lab) -> Result<Self> {
        let client = lab.netns("client")?;
        let switch = lab.netns("switch")?;
        let server = lab.netns("server")?;
        lab.veth((&client, "eth0"), (&switch, "c0"))?;
        lab.veth((&server, "eth0"), (&switch, "s0"))?;
        lab.bridge(&switch, "br0", &["c0", "s0"])?;
        lab.addr(&server, "eth0", "10.77.0.1/24")?;
        let client_mac = lab.mac_of(&client, "eth0")?;
        let reserved_ip = "10.77.0.42";
        start_dnsmasq(
            lab,
            &DhcpServerConfig {
                netns: &server,
                iface: "eth0",
                range: ("10.77.0.100", "10.77.0.150"),
                hosts: &[(&client_mac, reserved_ip)],
            },
        )?;
        Ok(Self {
            client,
            switch,
            server,
            client_mac,
            reserved_ip,
        })
    }

    /// `--interface` arguments covering every hop.
    pub fn interface_args(&self) -> Vec<String> {
        vec![
            format!("{}:eth0", self.client),
            format!("{}:*", self.switch),
            format!("{}:eth0", self.server),
        ]
    }
}

/// The Linux half of a Neutron compute node (seed 004) plus the odd devices real hosts have:
/// a VM namespace whose NIC is a veth into a `qbr` bridge, a real (idle) tap on the same
/// bridge, a qvb/qvo veth into a "server" namespace whose bridge carries a dnsmasq with a host
/// entry for the VM, and an uplink veth to an "external" namespace with a macvlan on it. The
/// VM side runs jumbo frames (MTU 9000), the rest 1500, as in seed 000.
///
/// ```text
///  [vm] eth0(9000) ── tapvm(9000) ┐
///                       tapreal ──┼─ qbr [hv] ── qvb ── qvo ┐
///                                 ┘                          ├─ brs 10.78.0.1 [srv: dnsmasq]
///                                             up1 [ext] ── up0 ┘
///                                  mv0 (macvlan on up1) [ext]
/// ```
pub struct LinuxComputeNode {
    pub vm: String,
    pub hv: String,
    pub srv: String,
    pub ext: String,
    pub vm_mac: String,
    pub reserved_ip: &'static str,
}

impl LinuxComputeNode {
    pub fn build(lab: &mut Lab) -> Result<Self> {
        let vm = lab.netns("vm")?;
        let hv = lab.netns("hv")?;
        let srv = lab.netns("srv")?;
        let ext = lab.netns("ext")?;
        lab.veth((&vm, "eth0"), (&hv, "tapvm"))?;
        lab.tap(&hv, "tapreal")?;
        lab.veth((&hv, "qvb"), (&srv, "qvo"))?;
        lab.veth((&srv, "up0"), (&ext, "up1"))?;
        lab.bridge(&hv, "qbr", &["tapvm", "tapreal", "qvb"])?;
        lab.bridge(&srv, "brs", &["qvo", "up0"])?;
        lab.macvlan(&ext, "mv0", "up1")?;
        lab.mtu(&vm, "eth0", 9000)?;
        lab.mtu(&hv, "tapvm", 9000)?;
        lab.addr(&srv, "brs", "10.78.0.1/24")?;
        let vm_mac = lab.mac_of(&vm, "eth0")?;
        let reserved_ip = "10.78.0.42";
        start_dnsmasq(
            lab,
            &DhcpServerConfig {
                netns: &srv,
                iface: "brs",
                range: ("10.78.0.100", "10.78.0.150"),
                hosts: &[(&vm_mac, reserved_ip)],
            },
        )?;
        Ok(Self {
            vm,
            hv,
            srv,
            ext,
            vm_mac,
            reserved_ip,
        })
    }
}
