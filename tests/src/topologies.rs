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
