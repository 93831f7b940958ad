//! A kernel [`PacketEvent`] -> a [`Hop`]. Numbers become names through a [`Resolver`], which
//! capture implements (it may enter namespaces); this module never touches the kernel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tracer_common::{
    event_flags,
    wire::{ip_proto, vlan_tci},
    PacketEvent, TunnelKind, VlanSource,
};

use super::{
    hop::{Dhcp, Hop, Icmp, Ip, Ovs, PushVlan, Tunnel, Vlan},
    kinds::{DropReason, Encapsulation, HookKind, TagSource, UpcallKind},
    ovs_action::OvsAction,
};
use crate::mac::Mac;

/// Names for what the kernel reports as numbers.
pub trait Resolver {
    /// `ip netns` name (or `root`, `pid:N`, `netns:[INO]`) of a namespace inode.
    fn netns_name(&self, ino: u32) -> String;
    /// Interface name of an ifindex in a namespace, when it can be found.
    fn ifname(&mut self, netns_ino: u32, ifindex: u32) -> Option<String>;
    /// The running kernel's name for a drop reason value, when it has one.
    fn drop_reason_name(&self, value: u32) -> Option<String>;
    /// The running kernel's name for an `ovs_action_attr` value, when it has one.
    fn ovs_action_name(&self, value: u8) -> Option<String>;
    /// Name of an OVS datapath port number.
    fn datapath_port(&self, port: u32) -> Option<String>;
    /// What a vport probe reported: datapath port `port` is the netdev `name`.
    fn learn_datapath_port(&mut self, port: u32, name: &str);
    /// Nanoseconds since the first event of the run.
    fn relative_time(&mut self, ktime_ns: u64) -> u64;
}

fn ip_addr(bytes: &[u8; 16], v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(*bytes))
    } else {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    }
}

fn vlan(tci: u16, tpid: u16, source: VlanSource) -> Option<Vlan> {
    let source = match source {
        VlanSource::None => return None,
        VlanSource::Accelerated => TagSource::Accelerated,
        _ => TagSource::InPacket,
    };
    Some(Vlan {
        id: tci & vlan_tci::VID_MASK,
        pcp: (tci >> vlan_tci::PCP_SHIFT) as u8,
        tpid,
        source,
    })
}

fn ip(ev: &PacketEvent) -> Option<Ip> {
    let has = |flag| ev.flags & flag != 0;
    let v6 = has(event_flags::IPV6);
    if !has(event_flags::IPV4) && !v6 {
        return None;
    }
    let ports = has(event_flags::L4) && ip_proto::has_ports(ev.ip_proto);
    let word = |i: usize| u16::from_be_bytes([ev.l4_head[i], ev.l4_head[i + 1]]);
    Some(Ip {
        version: if v6 { 6 } else { 4 },
        src: ip_addr(&ev.saddr, v6),
        dst: ip_addr(&ev.daddr, v6),
        proto: ev.ip_proto,
        id: (!v6).then(|| u16::from_be(ev.ip_id)),
        sport: ports.then(|| word(0)),
        dport: ports.then(|| word(2)),
        fragment: has(event_flags::FRAGMENT),
    })
}

fn icmp(ev: &PacketEvent) -> Option<Icmp> {
    let word = |i: usize| u16::from_be_bytes([ev.l4_head[i], ev.l4_head[i + 1]]);
    let ip = ev.flags & (event_flags::IPV4 | event_flags::IPV6) != 0;
    (ip && ev.flags & event_flags::L4 != 0 && ip_proto::is_icmp(ev.ip_proto)).then(|| Icmp {
        kind: ev.l4_head[0],
        code: ev.l4_head[1],
        id: word(4),
        seq: word(6),
    })
}

fn tunnel(ev: &PacketEvent) -> Option<Tunnel> {
    let t = &ev.tunnel;
    (ev.flags & event_flags::TUNNEL != 0).then(|| Tunnel {
        kind: match TunnelKind::from_raw(t.kind) {
            TunnelKind::Vxlan => Encapsulation::Vxlan,
            TunnelKind::Geneve => Encapsulation::Geneve,
            TunnelKind::None => Encapsulation::Unknown,
        },
        vni: t.vni,
        outer_src: ip_addr(&t.outer_saddr, t.outer_ipv6 != 0),
        outer_dst: ip_addr(&t.outer_daddr, t.outer_ipv6 != 0),
        outer_sport: t.outer_sport,
        outer_match: ev.flags & event_flags::OUTER_MATCH != 0,
    })
}

fn ovs(ev: &PacketEvent, hook: HookKind, names: &dyn Resolver) -> Option<Ovs> {
    let o = &ev.ovs;
    let mut out = Ovs::default();
    match hook {
        HookKind::OvsReceive | HookKind::OvsSend => out.port = Some(o.port),
        HookKind::OvsAction => {
            let action = OvsAction::from_wire(o.action, names.ovs_action_name(o.action));
            match action {
                OvsAction::Output => out.port = Some(o.port),
                OvsAction::PushVlan => {
                    // The argument is `tpid << 16 | tci`.
                    let tci = (o.arg & 0xffff) as u16;
                    out.push_vlan = Some(PushVlan {
                        vid: tci & vlan_tci::VID_MASK,
                        pcp: (tci >> vlan_tci::PCP_SHIFT) as u8,
                        tpid: (o.arg >> 16) as u16,
                    })
                }
                _ if o.arg != 0 => out.arg = Some(o.arg),
                _ => {}
            }
            out.action = Some(action);
        }
        HookKind::OvsUpcall => out.upcall = Some(UpcallKind::from_raw(o.upcall_cmd)),
        _ => return None,
    }
    out.port_name = out.port.and_then(|p| names.datapath_port(p));
    Some(out)
}

impl Hop {
    /// Decodes one event; `snapshot`, when given, is kept as hex.
    pub fn decode(ev: &PacketEvent, snapshot: Option<&[u8]>, names: &mut dyn Resolver) -> Self {
        let hook = HookKind::from_raw(ev.hook);
        let ovs = ovs(ev, hook, names);
        let ifname = match ev.ifindex {
            // A hook with no device (a drop before the skb had one).
            0 => None,
            i => names.ifname(ev.netns_ino, i),
        };
        if let (true, Some(port), Some(name)) = (
            hook.is_ovs_vport(),
            ovs.as_ref().and_then(|o| o.port),
            &ifname,
        ) {
            // The vport's own netdev names its port number, straight from the kernel.
            names.learn_datapath_port(port, name);
        }
        Self {
            t_ns: names.relative_time(ev.timestamp_ns),
            // From the event's fields, not `ev.fingerprint`: the probes leave that 0.
            fingerprint: hex_u64("", ev.compute_fingerprint(), 16),
            netns: names.netns_name(ev.netns_ino),
            netns_ino: ev.netns_ino,
            ifname: ifname.unwrap_or_else(|| match ev.ifindex {
                0 => "-".into(),
                i => format!("if#{i}"),
            }),
            ifindex: ev.ifindex,
            hook,
            drop_reason: (hook == HookKind::Drop).then(|| {
                DropReason::from_wire(ev.drop_reason, names.drop_reason_name(ev.drop_reason))
            }),
            len: ev.len,
            src_mac: Mac(ev.src_mac),
            dst_mac: Mac(ev.dst_mac),
            ethertype: hex_u64("0x", u16::from_be(ev.ether_type).into(), 4),
            vlan: vlan(
                ev.vlan_tci,
                ev.vlan_proto,
                VlanSource::from_raw(ev.vlan_source),
            ),
            ip: ip(ev),
            icmp: icmp(ev),
            dhcp: (ev.flags & event_flags::DHCP != 0).then(|| Dhcp {
                xid: format!("0x{:08x}", u32::from_be(ev.dhcp_xid)),
                message: super::DhcpMessage::from_wire(ev.bootp_op, ev.dhcp_msg_type),
                chaddr: Mac(ev.dhcp_chaddr),
                secs: u16::from_be(ev.dhcp_secs),
            }),
            tunnel: tunnel(ev),
            ovs,
            skb: hex_u64("0x", ev.skb_addr, 1),
            cpu: ev.cpu,
            truncated: ev.flags & event_flags::TRUNCATED != 0,
            snapshot: snapshot.filter(|s| !s.is_empty()).map(super::sighting::hex),
        }
    }
}

/// `prefix` and `v` in lower-case hex, at least `min_digits` wide: what `format!("{:0N$x}")`
/// gives, without the formatting machinery that was a tenth of the time spent per event.
fn hex_u64(prefix: &str, v: u64, min_digits: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (16 - v.leading_zeros() as usize / 4).max(min_digits).max(1);
    let mut out = String::with_capacity(prefix.len() + digits);
    out.push_str(prefix);
    for i in (0..digits).rev() {
        // Digits above the 16th are 0 (only reached when `min_digits` > 16).
        let nibble = if i < 16 { (v >> (4 * i)) & 0xf } else { 0 };
        out.push(char::from(HEX[nibble as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::hex_u64;

    #[test]
    fn hex_text_matches_the_formatter() {
        for v in [
            0u64,
            1,
            0xf,
            0x10,
            0x800,
            0x86dd,
            0xffff_8880_1234_5678,
            u64::MAX,
        ] {
            assert_eq!(hex_u64("", v, 16), format!("{v:016x}"));
            assert_eq!(hex_u64("0x", v, 4), format!("0x{v:04x}"));
            assert_eq!(hex_u64("0x", v, 1), format!("0x{v:x}"));
        }
        assert_eq!(hex_u64("", 0xab, 20), format!("{:020x}", 0xab));
    }
}
