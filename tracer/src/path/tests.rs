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
