//! Topologies shared by the tests and the demo, named after what they model.

use anyhow::Result;

use crate::{
    cmd::{in_netns, ip, run},
    dhcp::{start_dnsmasq, start_libvirt_dnsmasq, DhcpServerConfig},
    ovs::Ovs,
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
                agent_state: None,
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
                agent_state: None,
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

/// A network behind a router, added to a [`LinuxComputeNode`]: the server namespace routes
/// between brs (10.78.0.1) and r0 (10.90.0.1), a veth to `far`, whose r1 has 10.90.0.2. The
/// VM (10.78.0.50) routes everything through brs.
///
/// ```text
///  [vm] eth0 ── tapvm ─ qbr ─ qvb ── qvo ─ brs 10.78.0.1 [srv, forwarding] r0 ── r1 10.90.0.2 [far]
/// ```
pub struct RoutedNetwork {
    pub far: String,
    pub far_ip: &'static str,
}

impl RoutedNetwork {
    pub fn add(lab: &mut Lab, node: &LinuxComputeNode) -> Result<Self> {
        let far = lab.netns("far")?;
        lab.veth((&node.srv, "r0"), (&far, "r1"))?;
        lab.addr(&node.srv, "r0", "10.90.0.1/24")?;
        lab.addr(&far, "r1", "10.90.0.2/24")?;
        lab.addr(&node.vm, "eth0", "10.78.0.50/24")?;
        ip(&node.vm, &["route", "add", "default", "via", "10.78.0.1"])?;
        ip(&far, &["route", "add", "10.78.0.0/24", "via", "10.90.0.1"])?;
        in_netns(&node.srv, "sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
        Ok(Self {
            far,
            far_ip: "10.90.0.2",
        })
    }
}

/// A libvirt virtual network (`virsh net-start default`): a `virbr0` bridge with the
/// network's address, dnsmasq configured entirely through its conf file and listening on the
/// bridge, and a VM whose NIC is a veth into a `vnet0` port of the bridge.
///
/// ```text
///  [vm] eth0 ── vnet0 ┐
///                     └─ virbr0 192.168.122.1/24 [host: dnsmasq --conf-file=default.conf]
/// ```
pub struct LibvirtNetwork {
    pub vm: String,
    pub host: String,
    pub vm_mac: String,
}

/// What the network's dnsmasq is told about the VM.
pub enum LibvirtDhcp {
    /// A range in the bridge's subnet and a host entry reserving `LibvirtNetwork::RESERVED`.
    Healthy,
    /// The host entry says `ignore` for the VM's MAC.
    IgnoresVm,
    /// The host entry is there, but the only range is in another subnet.
    RangeElsewhere,
}

impl LibvirtNetwork {
    pub const RESERVED: &'static str = "192.168.122.10";
    pub const SUBNET: &'static str = "192.168.122.0/24";

    pub fn build(lab: &mut Lab, dhcp: LibvirtDhcp) -> Result<Self> {
        let vm = lab.netns("vm")?;
        let host = lab.netns("virt")?;
        lab.veth((&vm, "eth0"), (&host, "vnet0"))?;
        lab.bridge(&host, "virbr0", &["vnet0"])?;
        lab.addr(&host, "virbr0", "192.168.122.1/24")?;
        let vm_mac = lab.mac_of(&vm, "eth0")?;
        let range = match dhcp {
            LibvirtDhcp::RangeElsewhere => "dhcp-range=192.168.200.2,192.168.200.254,255.255.255.0",
            _ => "dhcp-range=192.168.122.2,192.168.122.254,255.255.255.0",
        };
        let entry = match dhcp {
            LibvirtDhcp::IgnoresVm => format!("{vm_mac},ignore"),
            _ => format!("{vm_mac},{},vm1", Self::RESERVED),
        };
        let conf = [
            "interface=virbr0".to_string(),
            range.to_string(),
            "dhcp-no-override".into(),
            "dhcp-authoritative".into(),
            "dhcp-lease-max=253".into(),
        ];
        start_libvirt_dnsmasq(lab, &host, &conf, &[entry])?;
        Ok(Self { vm, host, vm_mac })
    }
}

/// How br-int reaches br-eth2 in [`Seed004`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BridgeLink {
    /// OVS patch ports (today's Neutron): no netdev, invisible to the kernel datapath.
    Patch,
    /// A veth pair int-br-eth2/phy-br-eth2, as in the seed (older Neutron).
    Veth,
}

/// Seed 004's compute node with real Open vSwitch, plus the network node's DHCP namespace
/// behind the "wire":
///
/// ```text
///  [vm] eth0 ── tap<id> ─ qbr<id> ─ qvb<id> ── qvo<id> (br-int, tag 1)
///      br-int ── int-br-eth2 ═ phy-br-eth2 ── br-eth2 (flows: dl_vlan=1 -> mod_vlan_vid:1000)
///      br-eth2 ── eth2 ── eth2-net ── br-net ── tapdhcp (internal, tag 1000) [qdhcp: dnsmasq]
/// ```
///
/// The VM is described to pathtrace by a libvirt domain XML produced by `virsh` (test driver),
/// with the MAC and tap name of the seed.
pub struct Seed004 {
    pub ovs: Ovs,
    pub vm: String,
    pub qdhcp: String,
    pub vm_mac: &'static str,
    pub reserved_ip: &'static str,
    pub tap: String,
    pub qbr: String,
    pub qvb: String,
    pub qvo: String,
    /// Directory holding the domain XML (`--libvirt-xml`).
    pub libvirt_dir: std::path::PathBuf,
    pub domain: &'static str,
    /// The Neutron DHCP agent state directory (`--neutron-dhcp-dir`): `<network>/host` and
    /// `<network>/interface` for the `qdhcp-<network>` namespace.
    pub neutron_dhcp_dir: std::path::PathBuf,
}

impl Seed004 {
    pub const ID: &'static str = "53903a95-82";

    pub fn build(lab: &mut Lab, link: BridgeLink) -> Result<Self> {
        let mut ovs = Ovs::start()?;
        let vm = lab.netns("vm")?;
        let qdhcp = lab.agent_netns("qdhcp")?;
        let vm_mac = "fa:16:3e:fe:c7:87";
        let [tap, qbr, qvb, qvo] = ["tap", "qbr", "qvb", "qvo"].map(|p| format!("{p}{}", Self::ID));
        // libvirt gives the tap the guest MAC with the first byte set to 0xfe.
        run(
            "ip",
            &[
                "link",
                "add",
                &tap,
                "address",
                "fe:16:3e:fe:c7:87",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &vm,
                "address",
                vm_mac,
            ],
        )?;
        lab.host_link(&tap);
        run("ip", &["link", "add", &qbr, "type", "bridge"])?;
        lab.host_link(&qbr);
        run(
            "ip",
            &["link", "add", &qvb, "type", "veth", "peer", "name", &qvo],
        )?;
        lab.host_link(&qvb);
        for (dev, master) in [(&tap, &qbr), (&qvb, &qbr)] {
            run("ip", &["link", "set", dev, "master", master])?;
        }
        for dev in [&tap, &qbr, &qvb, &qvo] {
            run("ip", &["link", "set", dev, "up"])?;
        }
        ip(&vm, &["link", "set", "eth0", "up"])?;

        for b in ["br-int", "br-eth2", "br-net"] {
            ovs.bridge(b)?;
        }
        let attached = format!("external_ids:attached-mac={vm_mac}");
        run(
            "ovs-vsctl",
            &[
                "add-port",
                "br-int",
                &qvo,
                "tag=1",
                "--",
                "set",
                "Interface",
                &qvo,
                &attached,
                "external_ids:iface-id=53903a95-8250-4b5d-9b9c-5f0e3b2a1c01",
                "external_ids:iface-status=active",
            ],
        )?;
        match link {
            BridgeLink::Patch => {
                ovs.add_port(
                    "br-int",
                    "int-br-eth2",
                    &[
                        "set",
                        "Interface",
                        "int-br-eth2",
                        "type=patch",
                        "options:peer=phy-br-eth2",
                    ],
                )?;
                ovs.add_port(
                    "br-eth2",
                    "phy-br-eth2",
                    &[
                        "set",
                        "Interface",
                        "phy-br-eth2",
                        "type=patch",
                        "options:peer=int-br-eth2",
                    ],
                )?;
            }
            BridgeLink::Veth => {
                run(
                    "ip",
                    &[
                        "link",
                        "add",
                        "int-br-eth2",
                        "type",
                        "veth",
                        "peer",
                        "name",
                        "phy-br-eth2",
                    ],
                )?;
                lab.host_link("int-br-eth2");
                for dev in ["int-br-eth2", "phy-br-eth2"] {
                    run("ip", &["link", "set", dev, "up"])?;
                }
                ovs.add_port("br-int", "int-br-eth2", &[])?;
                ovs.add_port("br-eth2", "phy-br-eth2", &[])?;
            }
        }
        run(
            "ip",
            &[
                "link", "add", "eth2", "type", "veth", "peer", "name", "eth2-net",
            ],
        )?;
        lab.host_link("eth2");
        for dev in ["eth2", "eth2-net"] {
            run("ip", &["link", "set", dev, "up"])?;
        }
        ovs.add_port("br-eth2", "eth2", &[])?;
        ovs.add_port("br-net", "eth2-net", &[])?;
        run(
            "ovs-vsctl",
            &[
                "add-port",
                "br-net",
                "tapdhcp",
                "tag=1000",
                "--",
                "set",
                "Interface",
                "tapdhcp",
                "type=internal",
            ],
        )?;
        run("ip", &["link", "set", "tapdhcp", "netns", &qdhcp])?;
        ip(&qdhcp, &["link", "set", "tapdhcp", "up"])?;
        lab.addr(&qdhcp, "tapdhcp", "10.10.10.3/24")?;

        let phy = ovs.ofport("phy-br-eth2")?;
        let int = ovs.ofport("int-br-eth2")?;
        ovs.replace_flows(
            "br-eth2",
            &[
                format!("priority=4,in_port={phy},dl_vlan=1,actions=mod_vlan_vid:1000,NORMAL"),
                format!("priority=2,in_port={phy},actions=drop"),
                "priority=1,actions=NORMAL".into(),
            ],
        )?;
        ovs.replace_flows(
            "br-int",
            &[
                format!("priority=3,in_port={int},dl_vlan=1000,actions=mod_vlan_vid:1,NORMAL"),
                format!("priority=2,in_port={int},actions=drop"),
                "priority=1,actions=NORMAL".into(),
            ],
        )?;
        let reserved_ip = "10.10.10.2";
        // As the Neutron DHCP agent lays it out: /var/lib/neutron/dhcp/<network>/{host,interface}.
        let neutron_dhcp_dir = lab.workdir()?.join("neutron-dhcp");
        let network = qdhcp.trim_start_matches("qdhcp-").to_string();
        start_dnsmasq(
            lab,
            &DhcpServerConfig {
                netns: &qdhcp,
                iface: "tapdhcp",
                range: ("10.10.10.100", "10.10.10.150"),
                hosts: &[(vm_mac, reserved_ip)],
                agent_state: Some(&neutron_dhcp_dir.join(&network)),
            },
        )?;

        let domain = "instance-00000001";
        let libvirt_dir = lab.workdir()?.join("libvirt");
        std::fs::create_dir_all(&libvirt_dir)?;
        let define = libvirt_dir.join("define.xml");
        std::fs::write(
            &define,
            format!(
                "<domain type='test'><name>{domain}</name><uuid>3707ac87-4f5d-4349-b7ed-3a673f55e5e1</uuid>\
                 <memory>65536</memory><os><type>hvm</type></os><devices>\
                 <interface type='bridge'><mac address='{vm_mac}'/><source bridge='{qbr}'/>\
                 <target dev='{tap}'/><model type='virtio'/><mtu size='1500'/></interface>\
                 </devices></domain>"
            ),
        )?;
        // The test driver keeps domains in memory for one connection: define and dump in one
        // virsh invocation.
        let xml = run(
            "virsh",
            &[
                "-q",
                "-c",
                "test:///default",
                &format!("define {}; dumpxml {domain}", define.display()),
            ],
        )?;
        let xml = &xml[xml.find("<domain").unwrap_or(0)..];
        std::fs::remove_file(&define)?;
        std::fs::write(libvirt_dir.join(format!("{domain}.xml")), xml)?;
        Ok(Self {
            ovs,
            vm,
            qdhcp,
            vm_mac,
            reserved_ip,
            tap,
            qbr,
            qvb,
            qvo,
            libvirt_dir,
            domain,
            neutron_dhcp_dir,
        })
    }
}
