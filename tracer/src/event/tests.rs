//! Decoding kernel records into hops, without a kernel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tracer_common::{event_flags, wire::ethertype, Hook, PacketEvent, VlanSource};

use super::*;

fn dhcp_discover() -> PacketEvent {
    let mut ev: PacketEvent = unsafe { std::mem::zeroed() };
    ev.timestamp_ns = 1_000;
    ev.netns_ino = 42;
    ev.ifindex = 3;
    ev.hook = Hook::TcIngress as u8;
    ev.src_mac = [0xfa, 0x16, 0x3e, 0xfe, 0xc7, 0x87];
    ev.dst_mac = [0xff; 6];
    ev.ether_type = ethertype::IPV4.to_be();
    ev.vlan_source = VlanSource::Accelerated as u8;
    ev.vlan_tci = (3 << 13) | 1000;
    ev.vlan_proto = ethertype::VLAN;
    ev.daddr[..4].copy_from_slice(&[255, 255, 255, 255]);
    ev.ip_proto = 17;
    ev.l4_head = [0, 68, 0, 67, 1, 0x34, 0xab, 0xcd];
    ev.dhcp_xid = 0x3903f326u32.to_be();
    ev.dhcp_msg_type = 1;
    ev.bootp_op = 1;
    ev.dhcp_chaddr = ev.src_mac;
    ev.flags = event_flags::IPV4 | event_flags::L4 | event_flags::DHCP;
    ev
}

#[test]
fn decodes_a_tagged_dhcp_discover() {
    let mut names = TableNames::new(&[(42, "qdhcp-net1")], &[(42, 3, "tap0")]);
    let hop = Hop::decode(&dhcp_discover(), None, &mut names);
    assert_eq!(hop.netns, "qdhcp-net1");
    assert_eq!(hop.ifname, "tap0");
    assert_eq!(hop.hook, HookKind::Ingress);
    assert_eq!(
        hop.vlan,
        Some(Vlan {
            id: 1000,
            pcp: 3,
            tpid: 0x8100,
            source: TagSource::Accelerated
        })
    );
    assert_eq!(hop.wire_len(), 4);
    let ip = hop.ip.unwrap();
    assert_eq!((ip.sport, ip.dport), (Some(68), Some(67)));
    assert_eq!(ip.dst, IpAddr::V4(Ipv4Addr::BROADCAST));
    assert_eq!(ip.version, 4);
    let dhcp = hop.dhcp.unwrap();
    assert_eq!(dhcp.xid, "0x3903f326");
    assert_eq!(dhcp.message, DhcpMessage::Discover);
    assert_eq!(dhcp.chaddr.to_string(), "fa:16:3e:fe:c7:87");
    assert_eq!(hop.drop_reason, None);
    assert_eq!(hop.fingerprint.len(), 16);
    assert_eq!(hop.snapshot, None);
}

#[test]
fn the_fingerprint_is_computed_from_the_events_fields() {
    // The probes leave the field 0; recordings from when they filled it hold the same value.
    let mut names = TableNames::new(&[], &[]);
    let mut ev = dhcp_discover();
    let expected = format!("{:016x}", ev.compute_fingerprint());
    assert_eq!(ev.fingerprint, 0);
    assert_eq!(Hop::decode(&ev, None, &mut names).fingerprint, expected);
    ev.fingerprint = ev.compute_fingerprint();
    assert_eq!(Hop::decode(&ev, None, &mut names).fingerprint, expected);
    // Another message of the same exchange is another packet.
    ev.dhcp_xid ^= 1;
    assert_ne!(Hop::decode(&ev, None, &mut names).fingerprint, expected);
}

#[test]
fn drop_reasons_are_named_from_the_table() {
    let mut ev = dhcp_discover();
    ev.hook = Hook::Drop as u8;
    ev.drop_reason = 7;
    let mut names = TableNames::new(&[], &[]);
    names.drop_reasons = [(7, "NETFILTER_DROP".to_string())].into();
    let hop = Hop::decode(&ev, None, &mut names);
    assert_eq!(hop.hook, HookKind::Drop);
    assert_eq!(hop.drop_reason, Some(DropReason("NETFILTER_DROP".into())));
    ev.drop_reason = 999;
    assert_eq!(
        Hop::decode(&ev, None, &mut names).drop_reason,
        Some(DropReason("reason#999".into()))
    );
}

#[test]
fn unknown_places_still_print_and_snapshots_are_hex() {
    let mut names = TableNames::new(&[], &[]);
    let hop = Hop::decode(&dhcp_discover(), Some(&[0xde, 0xad]), &mut names);
    assert_eq!(hop.netns, "netns:[42]");
    assert_eq!(hop.ifname, "if#3");
    assert_eq!(hop.snapshot.as_deref(), Some("dead"));
}

#[test]
fn ovs_push_vlan_and_output_port_names() {
    let mut names = TableNames::new(&[(42, "root")], &[(42, 9, "eth2")]);
    // The send probe teaches port 3 = eth2.
    let mut send = dhcp_discover();
    send.hook = Hook::OvsSend as u8;
    send.ifindex = 9;
    send.ovs.port = 3;
    let hop = Hop::decode(&send, None, &mut names);
    assert_eq!(hop.ovs.unwrap().port, Some(3));

    let mut push = dhcp_discover();
    push.hook = Hook::OvsAction as u8;
    push.ovs.action = 4;
    push.ovs.arg = 0x8100 << 16 | 0x1000 | 1000;
    let ovs = Hop::decode(&push, None, &mut names).ovs.unwrap();
    assert_eq!(ovs.action, Some(OvsAction::PushVlan));
    assert_eq!(
        ovs.push_vlan,
        Some(PushVlan {
            vid: 1000,
            pcp: 0,
            tpid: 0x8100
        })
    );

    let mut out = dhcp_discover();
    out.hook = Hook::OvsAction as u8;
    out.ovs.action = 1;
    out.ovs.port = 3;
    let ovs = Hop::decode(&out, None, &mut names).ovs.unwrap();
    assert_eq!(ovs.action, Some(OvsAction::Output));
    assert_eq!(ovs.port_name.as_deref(), Some("eth2"));
}

#[test]
fn icmp_echo_and_ipv6_addresses() {
    let mut ev = dhcp_discover();
    ev.flags = event_flags::IPV6 | event_flags::L4;
    ev.ip_proto = 58;
    ev.saddr = "fe80::1".parse::<Ipv6Addr>().unwrap().octets();
    ev.daddr = "fe80::2".parse::<Ipv6Addr>().unwrap().octets();
    ev.l4_head = [128, 0, 0x12, 0x34, 0x00, 0x07, 0x00, 0x02];
    let mut names = TableNames::new(&[], &[]);
    let hop = Hop::decode(&ev, None, &mut names);
    let ip = hop.ip.unwrap();
    assert_eq!(ip.version, 6);
    assert_eq!(ip.src.to_string(), "fe80::1");
    assert_eq!((ip.sport, ip.id), (None, None));
    assert_eq!(
        hop.icmp,
        Some(Icmp {
            kind: 128,
            code: 0,
            id: 7,
            seq: 2
        })
    );
}
