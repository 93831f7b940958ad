//! The path computation on hand-built topologies.

use super::*;
use crate::topology::{
    model::{BridgeVlans, DhcpServer, HostEntry, Interface, OvsBridge, OvsInterface, OvsPort},
    sources::openflow::parse_dump,
};

fn link(netns: u32, ifindex: u32, name: &str, kind: LinkKind) -> Interface {
    Interface {
        key: IfaceKey { netns, ifindex },
        netns_name: if netns == 1 {
            "root".into()
        } else {
            "vm".into()
        },
        name: name.into(),
        kind,
        kind_name: None,
        mac: Some(Mac([2, 0, 0, 0, netns as u8, ifindex as u8])),
        mtu: 1500,
        oper_state: OperState::Up,
        admin_up: true,
        master: None,
        link: None,
        vlan_id: None,
        vni: None,
        addresses: Vec::new(),
        vlan_filtering: false,
        bridge_vlans: None,
        bond: None,
    }
}

fn port(name: &str, ofport: i64, tag: Option<u16>, netdev: IfaceKey) -> OvsPort {
    OvsPort {
        name: name.into(),
        tag,
        trunks: Vec::new(),
        vlan_mode: None,
        interfaces: vec![OvsInterface {
            name: name.into(),
            kind: String::new(),
            ofport: Some(ofport),
            options: Default::default(),
            external_ids: Default::default(),
            mtu: None,
            mac_in_use: None,
            link_state: None,
            error: None,
            netdev: Some(netdev),
        }],
        bond: None,
    }
}

/// vm:eth0 <-> qvo (br-int access port, tag 7) ; eth1 (trunk, physical uplink).
fn hand_built(flows: &str) -> Topology {
    let key = |netns, ifindex| IfaceKey { netns, ifindex };
    let mut eth0 = link(2, 2, "eth0", LinkKind::Veth);
    eth0.link = Some(key(1, 5));
    let datapath = link(1, 3, "ovs-system", LinkKind::Openvswitch);
    let mut qvo = link(1, 5, "qvo", LinkKind::Veth);
    qvo.link = Some(key(2, 2));
    qvo.master = Some(key(1, 3));
    let mut eth1 = link(1, 6, "eth1", LinkKind::Physical);
    eth1.master = Some(key(1, 3));
    Topology {
        interfaces: vec![eth0, datapath, qvo, eth1],
        ovs_bridges: vec![OvsBridge {
            name: "br-int".into(),
            datapath_type: "system".into(),
            fail_mode: None,
            ports: vec![
                port("qvo", 1, Some(7), key(1, 5)),
                port("eth1", 2, None, key(1, 6)),
            ],
            flows: parse_dump(flows).unwrap(),
        }],
        ..Default::default()
    }
}

#[test]
fn access_port_tags_and_trunk_carries_the_tag_to_the_uplink() {
    let topo = hand_built("priority=1 actions=NORMAL\n");
    let mac = Mac([2, 0, 0, 0, 2, 2]);
    let p = compute(&topo, mac, &Goal::Uplink).unwrap();
    let rows: Vec<(&str, Option<Direction>, Option<u16>)> = p
        .hops
        .iter()
        .map(|h| (h.name.as_str(), h.direction, h.vlan))
        .collect();
    assert_eq!(
        rows,
        [
            ("eth0", Some(Direction::Egress), None),
            ("qvo", Some(Direction::Ingress), None),
            ("br-int", None, Some(7)),
            ("eth1", Some(Direction::Egress), Some(7)),
        ]
    );
    assert_eq!(p.hops[1].ovs_port.as_ref().unwrap().tag, Some(7));
    assert!(!p.hops[2].kernel_visible);
    assert_eq!(p.blocked_at, None);
}

#[test]
fn a_drop_flow_blocks_the_path_at_its_bridge() {
    let topo = hand_built("priority=5,in_port=1 actions=drop\npriority=1 actions=NORMAL\n");
    let p = compute(&topo, Mac([2, 0, 0, 0, 2, 2]), &Goal::Uplink).unwrap();
    assert_eq!(p.blocked_at, Some(3));
    // After the bridge, the packet as it would have been without the drop flow.
    assert_eq!(p.hops[3].vlan, Some(7));
    assert!(
        p.hops[2]
            .notes
            .iter()
            .any(|n| matches!(n, Note::DroppedByFlow { .. })),
        "{:?}",
        p.hops[2].notes
    );
}

#[test]
fn unknown_mac_names_the_closest() {
    let topo = hand_built("priority=1 actions=NORMAL\n");
    let err = compute(&topo, Mac([2, 0, 0, 0, 2, 3]), &Goal::Uplink)
        .unwrap_err()
        .to_string();
    assert!(err.contains("02:00:00:00:02:02 (vm:eth0)"), "{err}");
}

fn server(pid: Option<u32>, netns: u32, on: IfaceKey, host_for: Option<Mac>) -> DhcpServer {
    DhcpServer {
        kind: crate::topology::model::ServerKind::Dnsmasq,
        bridge: None,
        pid,
        program: "dnsmasq".into(),
        config_dir: pid.is_none().then(|| "/var/lib/neutron/dhcp/n1".into()),
        netns,
        netns_name: format!("qdhcp-n{netns}"),
        interfaces: Vec::new(),
        listens_on: vec![on],
        ranges: Vec::new(),
        hostsfiles: Vec::new(),
        hosts: host_for
            .into_iter()
            .map(|m| HostEntry {
                macs: vec![m],
                ip: Some("10.0.0.2".parse().unwrap()),
                hostname: None,
                lease_time: None,
                ignore: false,
                origin: "host:1".into(),
            })
            .collect(),
        problems: Vec::new(),
    }
}

/// hand_built plus two DHCP namespaces on br-int (tag 7): ports tapa (netns 3) and tapb
/// (netns 4).
fn with_dhcp_namespaces(a: Option<u32>, b: Option<u32>, host_on_b: Mac) -> Topology {
    let key = |netns, ifindex| IfaceKey { netns, ifindex };
    let mut topo = hand_built("priority=1 actions=NORMAL\n");
    for (ns, ofport) in [(3, 3), (4, 4)] {
        let name = format!("tap{}", if ns == 3 { 'a' } else { 'b' });
        topo.interfaces
            .push(link(ns, 9, &name, LinkKind::Openvswitch));
        topo.ovs_bridges[0]
            .ports
            .push(port(&name, ofport, Some(7), key(ns, 9)));
    }
    topo.dhcp_servers = vec![
        server(a, 3, key(3, 9), None),
        server(b, 4, key(4, 9), Some(host_on_b)),
    ];
    topo
}

#[test]
fn a_running_server_is_preferred_to_a_configured_one_that_is_down() {
    let mac = Mac([2, 0, 0, 0, 2, 2]);
    let topo = with_dhcp_namespaces(Some(10), None, mac);
    let p = compute(&topo, mac, &Goal::Dhcp).unwrap();
    assert_eq!(p.hops.last().unwrap().name, "dnsmasq pid 10");
    assert_eq!(p.blocked_at, None);
    assert_eq!(p.dhcp_server.as_ref().unwrap().pid, Some(10));
}

#[test]
fn with_no_server_running_the_path_ends_where_it_should_listen() {
    let mac = Mac([2, 0, 0, 0, 2, 2]);
    let topo = with_dhcp_namespaces(None, None, mac);
    let p = compute(&topo, mac, &Goal::Dhcp).unwrap();
    let last = p.hops.last().unwrap();
    assert_eq!(last.name, "dnsmasq (not running)");
    assert_eq!(
        last.netns.as_deref(),
        Some("qdhcp-n4"),
        "the one with the host entry"
    );
    assert_eq!(p.hops[p.hops.len() - 2].name, "tapb");
    assert_eq!(p.blocked_at, Some(p.hops.len()));
    let server = p.dhcp_server.as_ref().unwrap();
    assert_eq!(server.pid, None);
    assert_eq!(server.reserved_ip, Some("10.0.0.2".parse().unwrap()));
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("no DHCP server runs in qdhcp-n4")
                && n.contains("/var/lib/neutron/dhcp/n1")),
        "{:?}",
        p.notes
    );
}

/// vm:eth0 <-> tap (port of br0, VLAN-filtering) ; br0 also has uplink eth1 (physical). The
/// tap puts untagged frames in VLAN 10; eth1 carries `uplink`.
fn filtering_bridge(uplink: BridgeVlans) -> Topology {
    let key = |netns, ifindex| IfaceKey { netns, ifindex };
    let mut eth0 = link(2, 2, "eth0", LinkKind::Veth);
    eth0.link = Some(key(1, 5));
    let mut br0 = link(1, 3, "br0", LinkKind::Bridge);
    br0.vlan_filtering = true;
    let mut tap = link(1, 5, "tap", LinkKind::Veth);
    tap.link = Some(key(2, 2));
    tap.master = Some(key(1, 3));
    tap.bridge_vlans = Some(BridgeVlans {
        pvid: Some(10),
        vids: vec![10],
        untagged: vec![10],
    });
    let mut eth1 = link(1, 6, "eth1", LinkKind::Physical);
    eth1.master = Some(key(1, 3));
    eth1.bridge_vlans = Some(uplink);
    Topology {
        interfaces: vec![eth0, br0, tap, eth1],
        ..Default::default()
    }
}

#[test]
fn a_filtering_bridge_classifies_by_pvid_and_tags_on_a_trunk() {
    let topo = filtering_bridge(BridgeVlans {
        pvid: None,
        vids: vec![10, 20],
        untagged: Vec::new(),
    });
    let p = compute(&topo, Mac([2, 0, 0, 0, 2, 2]), &Goal::Uplink).unwrap();
    let rows: Vec<(&str, Option<u16>)> = p.hops.iter().map(|h| (h.name.as_str(), h.vlan)).collect();
    assert_eq!(
        rows,
        [
            ("eth0", None),
            ("tap", None),
            ("br0", Some(10)),
            ("eth1", Some(10))
        ]
    );
    assert_eq!(p.blocked_at, None);
}

#[test]
fn a_port_without_the_vlan_blocks_the_path_where_it_would_leave() {
    let topo = filtering_bridge(BridgeVlans {
        pvid: Some(20),
        vids: vec![20],
        untagged: vec![20],
    });
    let p = compute(&topo, Mac([2, 0, 0, 0, 2, 2]), &Goal::Uplink).unwrap();
    assert_eq!(p.blocked_at, Some(4));
    assert_eq!(
        p.hops[3].notes,
        [Note::BridgeVlanFiltered {
            port: "eth1".into(),
            vlan: Some(10),
            leaving: true,
        }]
    );
}

#[test]
fn an_untagged_frame_on_a_port_without_pvid_is_dropped_arriving() {
    let mut topo = filtering_bridge(BridgeVlans {
        pvid: None,
        vids: vec![10],
        untagged: Vec::new(),
    });
    topo.interfaces[2].bridge_vlans = Some(BridgeVlans {
        pvid: None,
        vids: vec![10],
        untagged: Vec::new(),
    });
    let p = compute(&topo, Mac([2, 0, 0, 0, 2, 2]), &Goal::Uplink).unwrap();
    assert_eq!(p.blocked_at, Some(2));
    assert!(
        p.hops[1].notes[0].to_string().contains("no PVID"),
        "{:?}",
        p.hops[1].notes
    );
}

/// vm:eth0 (10.0.0.5, default via 10.0.0.1) <-> root:v-vm in br0 (10.0.0.1/24), with
/// other:eth0 (10.0.0.7) <-> root:v-other also in br0; root routes the rest out of eth1.
fn routed_host() -> Topology {
    use crate::topology::{model::Namespace, routing::Route};
    let key = |netns, ifindex| IfaceKey { netns, ifindex };
    let with = |mut i: Interface, addr: &str| {
        i.addresses.push(addr.into());
        i
    };
    let mut vm_eth0 = with(link(2, 2, "eth0", LinkKind::Veth), "10.0.0.5/24");
    vm_eth0.link = Some(key(1, 4));
    let mut other_eth0 = with(link(3, 2, "eth0", LinkKind::Veth), "10.0.0.7/24");
    other_eth0.link = Some(key(1, 5));
    other_eth0.netns_name = "other".into();
    let br0 = with(link(1, 3, "br0", LinkKind::Bridge), "10.0.0.1/24");
    let mut v_vm = link(1, 4, "v-vm", LinkKind::Veth);
    v_vm.link = Some(key(2, 2));
    v_vm.master = Some(key(1, 3));
    let mut v_other = link(1, 5, "v-other", LinkKind::Veth);
    v_other.link = Some(key(3, 2));
    v_other.master = Some(key(1, 3));
    let eth1 = with(link(1, 6, "eth1", LinkKind::Physical), "192.0.2.10/24");
    let route = |dst: &str, len, oif, gw: Option<&str>| Route {
        dst: dst.parse().unwrap(),
        prefix_len: len,
        oif: Some(oif),
        gateway: gw.map(|g| g.parse().unwrap()),
        metric: 0,
    };
    let ns = |ino, name: &str, routes| Namespace {
        ino,
        name: name.into(),
        routes,
        neighbours: Vec::new(),
    };
    Topology {
        namespaces: vec![
            ns(
                1,
                "root",
                vec![
                    route("10.0.0.0", 24, 3, None),
                    route("192.0.2.0", 24, 6, None),
                    route("0.0.0.0", 0, 6, Some("192.0.2.1")),
                ],
            ),
            ns(2, "vm", vec![route("0.0.0.0", 0, 2, Some("10.0.0.1"))]),
            ns(3, "other", vec![route("10.0.0.0", 24, 2, None)]),
        ],
        interfaces: vec![vm_eth0, other_eth0, br0, v_vm, v_other, eth1],
        ..Default::default()
    }
}

fn to(topo: &Topology, ip: &str) -> ExpectedPath {
    let mac = Mac([2, 0, 0, 0, 2, 2]);
    let dst = Destination {
        ip: ip.parse().unwrap(),
        mac: None,
    };
    compute(topo, mac, &Goal::Destination(dst)).unwrap()
}

fn names_and_directions(p: &ExpectedPath) -> Vec<(String, Option<Direction>)> {
    p.hops
        .iter()
        .map(|h| (h.name.clone(), h.direction))
        .collect()
}

#[test]
fn a_local_destination_ends_at_the_link_that_owns_it() {
    let p = to(&routed_host(), "10.0.0.7");
    let got = names_and_directions(&p);
    let want = [
        ("eth0", Some(Direction::Egress)),
        ("v-vm", Some(Direction::Ingress)),
        ("br0", None),
        ("v-other", Some(Direction::Egress)),
        ("eth0", Some(Direction::Ingress)),
    ];
    let want: Vec<_> = want.iter().map(|(n, d)| (n.to_string(), *d)).collect();
    assert_eq!(got, want, "{p:#?}");
    assert_eq!(p.hops[4].netns.as_deref(), Some("other"));
    assert_eq!(p.goal, "destination");
    assert_eq!(p.blocked_at, None);
}

#[test]
fn a_remote_destination_is_routed_out_where_the_gateway_s_table_says() {
    let p = to(&routed_host(), "198.51.100.9");
    let got = names_and_directions(&p);
    assert_eq!(
        got.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["eth0", "v-vm", "br0", "eth1"],
        "{p:#?}"
    );
    // Delivered up br0's own interface, then sent out of eth1.
    assert!(p.hops[2].notes.contains(&Note::DeliveredToBridge), "{p:#?}");
    assert_eq!(p.hops[3].direction, Some(Direction::Egress));
    assert_eq!(
        p.hops[3].notes,
        [Note::RoutedOut {
            route: "default via 192.0.2.1".into()
        }]
    );
}

#[test]
fn the_gateway_itself_is_a_local_destination() {
    let p = to(&routed_host(), "10.0.0.1");
    assert_eq!(p.hops.last().unwrap().name, "br0");
    assert!(p
        .hops
        .last()
        .unwrap()
        .notes
        .contains(&Note::DeliveredToBridge));
}

#[test]
fn a_destination_out_of_reach_is_a_broken_path_not_an_error() {
    let mut topo = routed_host();
    // v-other leaves br0: 10.0.0.7 is still on this host, but nothing joins it.
    topo.interfaces[4].master = None;
    let p = to(&topo, "10.0.0.7");
    let at = p.blocked_at.expect("blocked") - 1;
    let note = p.hops[at]
        .notes
        .iter()
        .find(|n| matches!(n, Note::PathBreaks { .. }))
        .unwrap_or_else(|| panic!("{p:#?}"));
    let text = note.to_string();
    assert!(text.contains("the destination's side"), "{text}");
    assert!(text.contains("v-other, which is in no bridge"), "{text}");
}

#[test]
fn with_no_owner_route_or_uplink_the_destination_is_an_error() {
    let mut topo = routed_host();
    topo.namespaces.iter_mut().for_each(|n| n.routes.clear());
    topo.interfaces.retain(|i| i.name != "eth1");
    let mac = Mac([2, 0, 0, 0, 2, 2]);
    let dst = Destination {
        ip: "198.51.100.9".parse().unwrap(),
        mac: None,
    };
    let e = compute(&topo, mac, &Goal::Destination(dst)).unwrap_err();
    assert!(e.to_string().contains("no path from"), "{e}");
}

/// vm:eth0 <-> root:v in br0, whose uplink is bond0 over the physical eth1 and eth2.
fn bonded_uplink(mode: crate::topology::bond::BondMode, active: Option<u32>) -> Topology {
    use crate::topology::bond::LinuxBond;
    let key = |netns, ifindex| IfaceKey { netns, ifindex };
    let mut eth0 = link(2, 2, "eth0", LinkKind::Veth);
    eth0.link = Some(key(1, 3));
    let mut v = link(1, 3, "v", LinkKind::Veth);
    v.link = Some(key(2, 2));
    v.master = Some(key(1, 4));
    let br0 = link(1, 4, "br0", LinkKind::Bridge);
    let mut bond0 = link(1, 5, "bond0", LinkKind::Bond);
    bond0.master = Some(key(1, 4));
    bond0.bond = Some(LinuxBond { mode, active });
    let member = |ifindex, name| {
        let mut m = link(1, ifindex, name, LinkKind::Physical);
        m.master = Some(key(1, 5));
        m
    };
    Topology {
        interfaces: vec![eth0, v, br0, bond0, member(6, "eth1"), member(7, "eth2")],
        ..Default::default()
    }
}

#[test]
fn an_active_backup_bond_is_crossed_over_its_active_member() {
    use crate::topology::bond::BondMode;
    let topo = bonded_uplink(BondMode::ActiveBackup, Some(7));
    let p = compute(&topo, Mac([2, 0, 0, 0, 2, 2]), &Goal::Uplink).unwrap();
    let names: Vec<&str> = p.hops.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["eth0", "v", "br0", "bond0", "eth2"], "{p:#?}");
    let bond = p.hops[3].bond.as_ref().expect("bond0 is named");
    assert_eq!(bond.mode, BondMode::ActiveBackup);
    assert_eq!(bond.members, ["eth1", "eth2"]);
    assert_eq!(bond.active.as_deref(), Some("eth2"));
    assert_eq!(p.hops[3].direction, Some(Direction::Egress));
    // The standby member is attached too, in case it carries the packet after all.
    let alt: Vec<&str> = p.hops[4]
        .alternatives
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(alt, ["eth1"]);
    assert_eq!(
        p.hops[4].bond.as_ref().map(|b| b.name.as_str()),
        Some("bond0")
    );
}

#[test]
fn a_balancing_bond_takes_a_member_and_attaches_the_others() {
    use crate::topology::bond::BondMode;
    let topo = bonded_uplink(BondMode::BalanceXor, None);
    let p = compute(&topo, Mac([2, 0, 0, 0, 2, 2]), &Goal::Uplink).unwrap();
    let last = p.hops.last().unwrap();
    assert_eq!(last.name, "eth1", "{p:#?}");
    let alt: Vec<&str> = last.alternatives.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(alt, ["eth2"]);
    assert_eq!(p.hops[3].bond.as_ref().unwrap().active, None);
}

/// Where a frame from the VM can go without a destination: its layer-2 domain (the bridge and
/// both VMs' veths), then, through the host's namespace, which routes out of eth1, eth1's,
/// where frames leave the host; the other namespace routes nowhere else and is no router.
#[test]
fn the_reach_is_the_layer_2_domain_and_what_its_routers_lead_to() {
    let r = super::reach::reach(&routed_host(), Mac([2, 0, 0, 0, 2, 2])).unwrap();
    assert_eq!(r.domains.len(), 2, "{r:#?}");
    let names = |d: &super::reach::Domain| -> Vec<String> {
        d.links
            .iter()
            .map(|l| format!("{}:{}", l.netns, l.name))
            .collect()
    };
    let own = names(&r.domains[0]);
    for l in [
        "vm:eth0",
        "root:v-vm",
        "root:br0",
        "root:v-other",
        "other:eth0",
    ] {
        assert!(own.iter().any(|n| n == l), "{l} not in {own:?}");
    }
    assert!(r.domains[0].via.is_none());
    let behind = &r.domains[1];
    let via = behind.via.as_ref().unwrap();
    assert_eq!((via.netns.as_str(), via.link.as_str()), ("root", "eth1"));
    assert_eq!(names(behind), ["root:eth1"]);
    assert!(behind.links[0].leaves_host);
    assert!(r.truncated.is_none());
    assert_eq!(r.links().count(), 6);
}
