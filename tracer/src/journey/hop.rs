//! One packet observed at one hook, with names resolved.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use tracer_common::{event_flags, Hook, PacketEvent, TunnelKind, VlanSource};

use super::Names;
use crate::{capture::Record, mac::Mac};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Vlan {
    pub id: u16,
    pub pcp: u8,
    /// 0x8100 or 0x88a8.
    pub tpid: u16,
    /// "accelerated" (out of band in the skb) or "in-packet".
    #[serde(deserialize_with = "static_str")]
    pub source: Label,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Ip {
    /// 4 or 6.
    pub version: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    /// IPv4 identification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    /// A non-first fragment (no transport header).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fragment: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Icmp {
    #[serde(rename = "type")]
    pub kind: u8,
    pub code: u8,
    /// Echo identifier and sequence (meaningful for echo request/reply).
    pub id: u16,
    pub seq: u16,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Dhcp {
    /// Transaction id, as hex in the usual notation (`0x3903f326`).
    pub xid: String,
    /// DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM, or BOOTREQUEST /
    /// BOOTREPLY when the message type option was not seen.
    pub message: String,
    pub chaddr: Mac,
    pub secs: u16,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Tunnel {
    /// "vxlan" or "geneve".
    #[serde(deserialize_with = "static_str")]
    pub kind: Label,
    pub vni: u32,
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    pub outer_sport: u16,
    /// Only the outer headers matched the filter.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outer_match: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PushVlan {
    pub vid: u16,
    pub pcp: u8,
    pub tpid: u16,
}

/// What the Open vSwitch datapath did or was doing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Ovs {
    /// Datapath port number (receive/send/output), as `ovs-dpctl show` numbers them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    /// Name of that port, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,
    /// The datapath action (`output`, `push_vlan`, `pop_vlan`, `userspace`, `set`, `ct`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_vlan: Option<PushVlan>,
    /// `recirc` id or `hash` algorithm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arg: Option<u32>,
    /// Upcall command: "miss" or "action".
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "static_str_opt"
    )]
    pub upcall: Option<Label>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Hop {
    /// Nanoseconds since the first event of this run.
    pub t_ns: u64,
    /// The packet's identity, the same at every hop (see `tracer_common::PacketEvent`).
    pub fingerprint: String,
    pub netns: String,
    pub netns_ino: u32,
    pub ifname: String,
    pub ifindex: u32,
    /// "ingress", "egress", "drop", "ovs-receive", "ovs-action", "ovs-upcall" or "ovs-send".
    #[serde(deserialize_with = "static_str")]
    pub hook: Label,
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
    pub ip: Option<Ip>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp: Option<Icmp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<Dhcp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<Tunnel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ovs: Option<Ovs>,
    /// Kernel sk_buff address, for telling packets apart within a host.
    pub skb: String,
    pub cpu: u32,
    pub truncated: bool,
    /// The captured bytes, hex (only with `--output-snapshot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

/// A fixed name (hook, VLAN source, tunnel kind, upcall command). An alias rather than
/// `&'static str` in the fields, so serde's derive reads it with [`static_str`] instead of
/// borrowing it from the input.
pub type Label = &'static str;

/// Every value the [`Label`] fields take, so that a recorded hop reads back into
/// the same type (`pathtrace replay`) without leaking or widening the type to `String`.
const STATIC_VALUES: &[&str] = &[
    "ingress",
    "egress",
    "drop",
    "ovs-receive",
    "ovs-action",
    "ovs-upcall",
    "ovs-send",
    "accelerated",
    "in-packet",
    "vxlan",
    "geneve",
    "miss",
    "action",
    "other",
    "unknown",
];

fn static_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let s = String::deserialize(d)?;
    STATIC_VALUES
        .iter()
        .find(|v| **v == s)
        .copied()
        .ok_or_else(|| serde::de::Error::custom(format!("unknown value {s:?}")))
}

fn static_str_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<&'static str>, D::Error> {
    static_str(d).map(Some)
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

pub fn hook_name(raw: u8) -> &'static str {
    match Hook::from_raw(raw) {
        Some(Hook::TcIngress) => "ingress",
        Some(Hook::TcEgress) => "egress",
        Some(Hook::Drop) => "drop",
        Some(Hook::OvsReceive) => "ovs-receive",
        Some(Hook::OvsAction) => "ovs-action",
        Some(Hook::OvsUpcall) => "ovs-upcall",
        Some(Hook::OvsSend) => "ovs-send",
        None => "unknown",
    }
}

fn ip_addr(bytes: &[u8; 16], v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(*bytes))
    } else {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    }
}

const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;
const OVS_ACTION_OUTPUT: u8 = 1;
const OVS_ACTION_PUSH_VLAN: u8 = 4;

impl Hop {
    pub fn from_record(record: &Record, names: &mut Names, with_snapshot: bool) -> Self {
        let mut hop = Self::from_event(&record.event, names);
        if with_snapshot && !record.snapshot.is_empty() {
            hop.snapshot = Some(super::recording::hex(&record.snapshot));
        }
        hop
    }

    pub fn from_event(ev: &PacketEvent, names: &mut Names) -> Self {
        let hook = hook_name(ev.hook);
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
        let v6 = has(event_flags::IPV6);
        let l4 = has(event_flags::L4);
        let word = |i: usize| u16::from_be_bytes([ev.l4_head[i], ev.l4_head[i + 1]]);
        let ports = l4 && matches!(ev.ip_proto, IPPROTO_TCP | IPPROTO_UDP);
        let ip = (has(event_flags::IPV4) || v6).then(|| Ip {
            version: if v6 { 6 } else { 4 },
            src: ip_addr(&ev.saddr, v6),
            dst: ip_addr(&ev.daddr, v6),
            proto: ev.ip_proto,
            id: (!v6).then(|| u16::from_be(ev.ip_id)),
            sport: ports.then(|| word(0)),
            dport: ports.then(|| word(2)),
            fragment: has(event_flags::FRAGMENT),
        });
        let icmp = (ip.is_some() && l4 && matches!(ev.ip_proto, IPPROTO_ICMP | IPPROTO_ICMPV6))
            .then(|| Icmp {
                kind: ev.l4_head[0],
                code: ev.l4_head[1],
                id: word(4),
                seq: word(6),
            });
        let dhcp = has(event_flags::DHCP).then(|| Dhcp {
            xid: format!("0x{:08x}", u32::from_be(ev.dhcp_xid)),
            message: dhcp_message_name(ev.bootp_op, ev.dhcp_msg_type),
            chaddr: Mac(ev.dhcp_chaddr),
            secs: u16::from_be(ev.dhcp_secs),
        });
        let tunnel = has(event_flags::TUNNEL).then(|| {
            let t = &ev.tunnel;
            Tunnel {
                kind: match TunnelKind::from_raw(t.kind) {
                    TunnelKind::Vxlan => "vxlan",
                    TunnelKind::Geneve => "geneve",
                    TunnelKind::None => "unknown",
                },
                vni: t.vni,
                outer_src: ip_addr(&t.outer_saddr, t.outer_ipv6 != 0),
                outer_dst: ip_addr(&t.outer_daddr, t.outer_ipv6 != 0),
                outer_sport: t.outer_sport,
                outer_match: has(event_flags::OUTER_MATCH),
            }
        });
        let ovs = Self::ovs_section(ev, names);
        if let (Some(Hook::OvsReceive | Hook::OvsSend), Some(port)) =
            (Hook::from_raw(ev.hook), ovs.as_ref().and_then(|o| o.port))
        {
            // The vport's own netdev names its port number, straight from the kernel.
            let name = names.ifname(ev.netns_ino, ev.ifindex);
            names.learn_datapath_port(port, &name);
        }
        Self {
            t_ns: names.relative_time(ev.timestamp_ns),
            fingerprint: format!("{:016x}", ev.fingerprint),
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
            ip,
            icmp,
            dhcp,
            tunnel,
            ovs,
            skb: format!("0x{:x}", ev.skb_addr),
            cpu: ev.cpu,
            truncated: has(event_flags::TRUNCATED),
            snapshot: None,
        }
    }

    fn ovs_section(ev: &PacketEvent, names: &Names) -> Option<Ovs> {
        let hook = Hook::from_raw(ev.hook)?;
        let o = &ev.ovs;
        let mut out = Ovs {
            port: None,
            port_name: None,
            action: None,
            push_vlan: None,
            arg: None,
            upcall: None,
        };
        match hook {
            Hook::OvsReceive | Hook::OvsSend => out.port = Some(o.port),
            Hook::OvsAction => {
                out.action = Some(names.ovs_action(o.action));
                match o.action {
                    OVS_ACTION_OUTPUT => out.port = Some(o.port),
                    OVS_ACTION_PUSH_VLAN => {
                        let tci = (o.arg & 0xffff) as u16;
                        out.push_vlan = Some(PushVlan {
                            vid: tci & 0x0fff,
                            pcp: (tci >> 13) as u8,
                            tpid: (o.arg >> 16) as u16,
                        })
                    }
                    _ if o.arg != 0 => out.arg = Some(o.arg),
                    _ => {}
                }
            }
            Hook::OvsUpcall => {
                out.upcall = Some(match o.upcall_cmd {
                    1 => "miss",
                    2 => "action",
                    _ => "other",
                })
            }
            _ => return None,
        }
        out.port_name = out.port.and_then(|p| names.datapath_port(p));
        Some(out)
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
        ev.daddr[..4].copy_from_slice(&[255, 255, 255, 255]);
        ev.ip_proto = 17;
        ev.l4_head = [0, 68, 0, 67, 1, 0x34, 0xab, 0xcd];
        ev.dhcp_xid = 0x3903f326u32.to_be();
        ev.dhcp_msg_type = 1;
        ev.bootp_op = 1;
        ev.dhcp_chaddr = ev.src_mac;
        ev.flags = event_flags::IPV4 | event_flags::L4 | event_flags::DHCP;
        ev.fingerprint = ev.compute_fingerprint();
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
        let ip = hop.ip.unwrap();
        assert_eq!((ip.sport, ip.dport), (Some(68), Some(67)));
        assert_eq!(ip.dst, IpAddr::V4(Ipv4Addr::BROADCAST));
        assert_eq!(ip.version, 4);
        let dhcp = hop.dhcp.unwrap();
        assert_eq!(dhcp.xid, "0x3903f326");
        assert_eq!(dhcp.message, "DISCOVER");
        assert_eq!(dhcp.chaddr.to_string(), "fa:16:3e:fe:c7:87");
        assert_eq!(hop.drop_reason, None);
        assert_eq!(hop.fingerprint.len(), 16);
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

    #[test]
    fn ovs_push_vlan_and_output_port_names() {
        let mut names = Names::for_test(&[(42, "root")], &[(42, 9, "eth2")]);
        names.set_ovs_actions([(1, "output".into()), (4, "push_vlan".into())].into());
        // The send probe teaches port 3 = eth2.
        let mut send = dhcp_discover();
        send.hook = Hook::OvsSend as u8;
        send.ifindex = 9;
        send.ovs.port = 3;
        let hop = Hop::from_event(&send, &mut names);
        assert_eq!(hop.ovs.unwrap().port, Some(3));

        let mut push = dhcp_discover();
        push.hook = Hook::OvsAction as u8;
        push.ovs.action = 4;
        push.ovs.arg = 0x8100 << 16 | 0x1000 | 1000;
        let ovs = Hop::from_event(&push, &mut names).ovs.unwrap();
        assert_eq!(ovs.action.as_deref(), Some("push_vlan"));
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
        let ovs = Hop::from_event(&out, &mut names).ovs.unwrap();
        assert_eq!(ovs.action.as_deref(), Some("output"));
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
        let mut names = Names::for_test(&[], &[]);
        let hop = Hop::from_event(&ev, &mut names);
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
}
