//! One packet observed at one hook, with names resolved.

use std::net::Ipv4Addr;

use serde::Serialize;
use tracer_common::{event_flags, Hook, PacketEvent, VlanSource};

use super::Names;
use crate::mac::Mac;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Vlan {
    pub id: u16,
    pub pcp: u8,
    /// 0x8100 or 0x88a8.
    pub tpid: u16,
    /// "accelerated" (out of band in the skb) or "in-packet".
    pub source: &'static str,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Ipv4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Dhcp {
    /// Transaction id, as hex in the usual notation (`0x3903f326`).
    pub xid: String,
    /// DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM, or BOOTREQUEST /
    /// BOOTREPLY when the message type option was not seen.
    pub message: String,
    pub chaddr: Mac,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Hop {
    /// Nanoseconds since the first event of this run.
    pub t_ns: u64,
    pub netns: String,
    pub netns_ino: u32,
    pub ifname: String,
    pub ifindex: u32,
    /// "ingress", "egress" or "drop".
    pub hook: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop_reason: Option<String>,
    pub len: u32,
    pub src_mac: Mac,
    pub dst_mac: Mac,
    /// EtherType after VLAN tags, e.g. "0x0800".
    pub ethertype: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Vlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<Dhcp>,
    /// Kernel sk_buff address, for telling packets apart within a host.
    pub skb: String,
    pub truncated: bool,
}

pub fn dhcp_message_name(op: u8, msg_type: u8) -> String {
    match msg_type {
        1 => "DISCOVER",
        2 => "OFFER",
        3 => "REQUEST",
        4 => "DECLINE",
        5 => "ACK",
        6 => "NAK",
        7 => "RELEASE",
        8 => "INFORM",
        0 if op == 1 => "BOOTREQUEST",
        0 if op == 2 => "BOOTREPLY",
        other => return format!("DHCP-{other}"),
    }
    .to_string()
}

impl Hop {
    pub fn from_event(ev: &PacketEvent, names: &mut Names) -> Self {
        let hook = match Hook::from_raw(ev.hook) {
            Some(Hook::TcIngress) => "ingress",
            Some(Hook::TcEgress) => "egress",
            Some(Hook::Drop) => "drop",
            None => "unknown",
        };
        let vlan = match VlanSource::from_raw(ev.vlan_source) {
            VlanSource::None => None,
            source => Some(Vlan {
                id: ev.vlan_tci & 0x0fff,
                pcp: (ev.vlan_tci >> 13) as u8,
                tpid: ev.vlan_proto,
                source: if source == VlanSource::Accelerated {
                    "accelerated"
                } else {
                    "in-packet"
                },
            }),
        };
        let has = |flag| ev.flags & flag != 0;
        let ipv4 = has(event_flags::IPV4).then(|| Ipv4 {
            src: Ipv4Addr::from(ev.saddr),
            dst: Ipv4Addr::from(ev.daddr),
            proto: ev.ip_proto,
            sport: has(event_flags::L4_PORTS).then(|| u16::from_be(ev.sport)),
            dport: has(event_flags::L4_PORTS).then(|| u16::from_be(ev.dport)),
        });
        let dhcp = has(event_flags::DHCP).then(|| Dhcp {
            xid: format!("0x{:08x}", u32::from_be(ev.dhcp_xid)),
            message: dhcp_message_name(ev.bootp_op, ev.dhcp_msg_type),
            chaddr: Mac(ev.dhcp_chaddr),
        });
        Self {
            t_ns: names.relative_time(ev.timestamp_ns),
            netns: names.netns_name(ev.netns_ino),
            netns_ino: ev.netns_ino,
            ifname: names.ifname(ev.netns_ino, ev.ifindex),
            ifindex: ev.ifindex,
            hook,
            drop_reason: (hook == "drop").then(|| names.drop_reason(ev.drop_reason)),
            len: ev.len,
            src_mac: Mac(ev.src_mac),
            dst_mac: Mac(ev.dst_mac),
            ethertype: format!("0x{:04x}", u16::from_be(ev.ether_type)),
            vlan,
            ipv4,
            dhcp,
            skb: format!("0x{:x}", ev.skb_addr),
            truncated: has(event_flags::TRUNCATED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dhcp_discover() -> PacketEvent {
        let mut ev: PacketEvent = unsafe { std::mem::zeroed() };
        ev.timestamp_ns = 1_000;
        ev.netns_ino = 42;
        ev.ifindex = 3;
        ev.hook = Hook::TcIngress as u8;
        ev.src_mac = [0xfa, 0x16, 0x3e, 0xfe, 0xc7, 0x87];
        ev.dst_mac = [0xff; 6];
        ev.ether_type = 0x0800u16.to_be();
        ev.vlan_source = VlanSource::Accelerated as u8;
        ev.vlan_tci = (3 << 13) | 1000;
        ev.vlan_proto = 0x8100;
        ev.saddr = [0, 0, 0, 0];
        ev.daddr = [255, 255, 255, 255];
        ev.ip_proto = 17;
        ev.sport = 68u16.to_be();
        ev.dport = 67u16.to_be();
        ev.dhcp_xid = 0x3903f326u32.to_be();
        ev.dhcp_msg_type = 1;
        ev.bootp_op = 1;
        ev.dhcp_chaddr = ev.src_mac;
        ev.flags = event_flags::IPV4 | event_flags::L4_PORTS | event_flags::DHCP;
        ev
    }

    #[test]
    fn decodes_a_tagged_dhcp_discover() {
        let mut names = Names::for_test(&[(42, "qdhcp-net1")], &[(42, 3, "tap0")]);
        let hop = Hop::from_event(&dhcp_discover(), &mut names);
        assert_eq!(hop.netns, "qdhcp-net1");
        assert_eq!(hop.ifname, "tap0");
        assert_eq!(hop.hook, "ingress");
        assert_eq!(
            hop.vlan,
            Some(Vlan {
                id: 1000,
                pcp: 3,
                tpid: 0x8100,
                source: "accelerated"
            })
        );
        let ip = hop.ipv4.unwrap();
        assert_eq!((ip.sport, ip.dport), (Some(68), Some(67)));
        assert_eq!(ip.dst, Ipv4Addr::BROADCAST);
        let dhcp = hop.dhcp.unwrap();
        assert_eq!(dhcp.xid, "0x3903f326");
        assert_eq!(dhcp.message, "DISCOVER");
        assert_eq!(dhcp.chaddr.to_string(), "fa:16:3e:fe:c7:87");
        assert_eq!(hop.drop_reason, None);
    }

    #[test]
    fn drop_reasons_are_named_from_the_table() {
        let mut ev = dhcp_discover();
        ev.hook = Hook::Drop as u8;
        ev.drop_reason = 7;
        let mut names = Names::for_test(&[], &[]);
        names.set_drop_reasons([(7, "NETFILTER_DROP".to_string())].into());
        let hop = Hop::from_event(&ev, &mut names);
        assert_eq!(hop.hook, "drop");
        assert_eq!(hop.drop_reason.as_deref(), Some("NETFILTER_DROP"));
        ev.drop_reason = 999;
        assert_eq!(
            Hop::from_event(&ev, &mut names).drop_reason.as_deref(),
            Some("reason#999")
        );
    }

    #[test]
    fn unknown_places_still_print() {
        let mut names = Names::for_test(&[], &[]);
        let hop = Hop::from_event(&dhcp_discover(), &mut names);
        assert_eq!(hop.netns, "netns:[42]");
        assert_eq!(hop.ifname, "if#3");
    }

    #[test]
    fn bootp_without_message_type() {
        assert_eq!(dhcp_message_name(2, 0), "BOOTREPLY");
        assert_eq!(dhcp_message_name(1, 5), "ACK");
        assert_eq!(dhcp_message_name(1, 42), "DHCP-42");
    }
}
