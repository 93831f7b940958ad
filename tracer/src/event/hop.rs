//! One packet observed at one hook, with names resolved: the unit every later stage works on.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{
    kinds::{DropReason, Encapsulation, HookKind, TagSource, UpcallKind},
    ovs_action::OvsAction,
    DhcpMessage,
};
use crate::mac::Mac;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Vlan {
    pub id: u16,
    pub pcp: u8,
    /// 0x8100 or 0x88a8.
    pub tpid: u16,
    pub source: TagSource,
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
    pub message: DhcpMessage,
    pub chaddr: Mac,
    pub secs: u16,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Tunnel {
    pub kind: Encapsulation,
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
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Ovs {
    /// Datapath port number (receive/send/output), as `ovs-dpctl show` numbers them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    /// Name of that port, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<OvsAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_vlan: Option<PushVlan>,
    /// `recirc` id or `hash` algorithm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arg: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upcall: Option<UpcallKind>,
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
    pub hook: HookKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop_reason: Option<DropReason>,
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
    /// The captured bytes, hex (only with `--output-snapshot`, and in recordings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

impl Hop {
    pub fn dhcp_message(&self) -> Option<DhcpMessage> {
        self.dhcp.as_ref().map(|d| d.message)
    }

    /// The VLAN id as seen at this hop (`None`: untagged).
    pub fn vlan_id(&self) -> Option<u16> {
        self.vlan.as_ref().map(|v| v.id)
    }

    /// Bytes on the wire: the length the hook saw plus an out-of-band (accelerated) tag.
    pub fn wire_len(&self) -> u32 {
        let accelerated = self
            .vlan
            .as_ref()
            .is_some_and(|v| v.source == TagSource::Accelerated);
        self.len + u32::from(accelerated) * tracer_common::wire::header_len::VLAN_TAG as u32
    }
}

#[cfg(test)]
impl Hop {
    /// A DHCP DISCOVER leaving a client's veth, for tests that need a whole hop.
    pub fn example() -> Self {
        // Through the module's re-exports, as callers name them.
        use super::{Dhcp, DhcpMessage, HookKind, Ip};
        Hop {
            t_ns: 1_500_000,
            fingerprint: "0123456789abcdef".into(),
            netns: "ns-client".into(),
            netns_ino: 1,
            ifname: "veth-c".into(),
            ifindex: 2,
            hook: HookKind::Egress,
            drop_reason: None,
            len: 342,
            src_mac: Mac([2, 0, 0, 0, 0, 1]),
            dst_mac: Mac([0xff; 6]),
            ethertype: "0x0800".into(),
            vlan: None,
            ip: Some(Ip {
                version: 4,
                src: [0, 0, 0, 0].into(),
                dst: [255, 255, 255, 255].into(),
                proto: 17,
                id: Some(0),
                sport: Some(68),
                dport: Some(67),
                fragment: false,
            }),
            icmp: None,
            dhcp: Some(Dhcp {
                xid: "0x01020304".into(),
                message: DhcpMessage::Discover,
                chaddr: Mac([2, 0, 0, 0, 0, 1]),
                secs: 0,
            }),
            tunnel: None,
            ovs: None,
            skb: "0x0".into(),
            cpu: 0,
            truncated: false,
            snapshot: None,
        }
    }

    /// [`Self::example`] turned into an ICMP packet between two MACs (IPv4 `ips`, or none),
    /// for tests of who sent what to whom.
    pub fn example_between(src: [u8; 6], dst: [u8; 6], ips: Option<(&str, &str)>) -> Self {
        let mut h = Self::example();
        h.src_mac = Mac(src);
        h.dst_mac = Mac(dst);
        h.dhcp = None;
        h.ip = ips.map(|(s, d)| super::Ip {
            version: 4,
            src: s.parse().unwrap(),
            dst: d.parse().unwrap(),
            proto: 1,
            id: None,
            sport: None,
            dport: None,
            fragment: false,
        });
        h
    }
}
