//! A DHCP server behind a bond, as on a node whose uplink is bonded: two veth pairs joined by
//! an active-backup bond at each end. The switch side is a Linux bond in a Linux bridge, or an
//! Open vSwitch bond port (`ovs-vsctl add-bond`); the server side is a Linux bond that holds
//! the server's address. Bonds need the bonding module: VM only (the CI host has none).
//!
//! ```text
//!  [client] eth0 ── c0 ─ br0 [switch] ─ bond0 ┬ b0 ══ s0 ┬ sbond 10.81.0.1 [server: dnsmasq]
//!                                             └ b1 ══ s1 ┘
//!  (OVS: c0, b0 and b1 in the host's namespace, ports of br-bond; bond0 is the OVS bond port)
//! ```

use anyhow::Result;

use crate::{
    cmd::{ip, run},
    dhcp::{start_dnsmasq, DhcpServerConfig},
    ovs::Ovs,
    Lab,
};

/// Which bond the switch side has.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SwitchBond {
    Linux,
    Ovs,
}

pub struct BondedServer {
    pub client: String,
    /// The namespace of the Linux switch side; `None` with OVS (the host's).
    pub switch: Option<String>,
    pub server: String,
    pub client_mac: String,
    /// Switch-side members, then the server side's, in enslaving order.
    pub members: [&'static str; 2],
    pub server_members: [&'static str; 2],
    /// Kept alive: its drop deletes the OVS bridge.
    _ovs: Option<Ovs>,
}

impl BondedServer {
    pub const SERVER_IP: &'static str = "10.81.0.1";
    pub const RESERVED: &'static str = "10.81.0.20";

    pub fn build(lab: &mut Lab, kind: SwitchBond) -> Result<Self> {
        run("modprobe", &["bonding"])?;
        let client = lab.netns("client")?;
        let server = lab.netns("server")?;
        let (switch, members, ovs) = match kind {
            SwitchBond::Linux => {
                let sw = lab.netns("switch")?;
                lab.veth((&client, "eth0"), (&sw, "c0"))?;
                for (b, s) in [("b0", "s0"), ("b1", "s1")] {
                    lab.veth((&sw, b), (&server, s))?;
                }
                linux_bond(&sw, "bond0", &["b0", "b1"])?;
                lab.bridge(&sw, "br0", &["c0", "bond0"])?;
                (Some(sw), ["b0", "b1"], None)
            }
            SwitchBond::Ovs => {
                let mut ovs = Ovs::start()?;
                host_veth(lab, "ptbc0", (&client, "eth0"))?;
                for (b, s) in [("ptbb0", "s0"), ("ptbb1", "s1")] {
                    host_veth(lab, b, (&server, s))?;
                }
                ovs.bridge("br-bond")?;
                ovs.add_port("br-bond", "ptbc0", &[])?;
                ovs.vsctl(&[
                    "add-bond",
                    "br-bond",
                    "bond0",
                    "ptbb0",
                    "ptbb1",
                    "bond_mode=active-backup",
                ])?;
                (None, ["ptbb0", "ptbb1"], Some(ovs))
            }
        };
        linux_bond(&server, "sbond", &["s0", "s1"])?;
        lab.addr(&server, "sbond", "10.81.0.1/24")?;
        let client_mac = lab.mac_of(&client, "eth0")?;
        start_dnsmasq(
            lab,
            &DhcpServerConfig {
                netns: &server,
                iface: "sbond",
                range: ("10.81.0.100", "10.81.0.150"),
                hosts: &[(&client_mac, Self::RESERVED)],
                agent_state: None,
            },
        )?;
        let topo = Self {
            client,
            switch,
            server,
            client_mac,
            members,
            server_members: ["s0", "s1"],
            _ovs: ovs,
        };
        topo.make_active(0)?;
        Ok(topo)
    }

    /// Makes member `i` (0 or 1) the active one at both ends.
    pub fn make_active(&self, i: usize) -> Result<()> {
        let active = |dev: &str| format!("active_slave {dev}");
        match &self.switch {
            Some(sw) => {
                let a = active(self.members[i]);
                let mut args = vec!["link", "set", "bond0", "type", "bond"];
                args.extend(a.split(' '));
                ip(sw, &args)?;
            }
            None => {
                run(
                    "ovs-appctl",
                    &["bond/set-active-slave", "bond0", self.members[i]],
                )?;
            }
        }
        let a = active(self.server_members[i]);
        let mut args = vec!["link", "set", "sbond", "type", "bond"];
        args.extend(a.split(' '));
        ip(&self.server, &args)?;
        Ok(())
    }
}

/// An active-backup bond of `members` (enslaved down, as the kernel requires), up.
fn linux_bond(netns: &str, name: &str, members: &[&str]) -> Result<()> {
    ip(
        netns,
        &[
            "link",
            "add",
            name,
            "type",
            "bond",
            "mode",
            "active-backup",
            "miimon",
            "100",
        ],
    )?;
    for m in members {
        ip(netns, &["link", "set", m, "down"])?;
        ip(netns, &["link", "set", m, "master", name])?;
        ip(netns, &["link", "set", m, "up"])?;
    }
    ip(netns, &["link", "set", name, "up"])?;
    Ok(())
}

/// A veth with `host` in the host's namespace (removed with the lab) and its peer in `peer`.
fn host_veth(lab: &mut Lab, host: &str, (netns, name): (&str, &str)) -> Result<()> {
    let mac = lab.next_mac();
    run(
        "ip",
        &[
            "link", "add", host, "type", "veth", "peer", "name", name, "netns", netns, "address",
            &mac,
        ],
    )?;
    lab.host_link(host);
    run("ip", &["link", "set", host, "up"])?;
    ip(netns, &["link", "set", name, "up"])?;
    Ok(())
}
