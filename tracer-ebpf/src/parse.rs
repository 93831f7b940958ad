//! Header parser shared by every hook: Ethernet, up to two VLAN tags, IPv4/IPv6, the first
//! transport bytes, DHCP, and the VXLAN/Geneve encapsulation around an inner frame. It is generic
//! over where the bytes come from ([`PacketBytes`]) so that the TC programs (skb load helper)
//! and the kernel-memory probes (drops, OVS) parse identically.

use network_types::{eth::EthHdr, ip::Ipv4Hdr, vlan::VlanHdr};
use tracer_common::{event_flags, tunnel_ports, PacketEvent, TunnelKind, VlanSource};

use tracer_common::wire::{bootp, ethertype, header_len, ip_proto};

/// Option 53 comes first from most clients and servers, not all (a hostname, client id or
/// parameter list may come before it); the bound keeps the programs' size and the verifier's
/// work linear while tolerating that many options before it.
const DHCP_MAX_OPTIONS_SCANNED: usize = 16;
/// Outer tags followed: QinQ (802.1ad + 802.1Q).
const MAX_VLAN_TAGS: usize = 2;
/// IPv6 extension headers skipped before the transport header (hop-by-hop, routing, dest opts).
const MAX_IPV6_EXT_HEADERS: usize = 2;

/// Read access to the bytes of one packet, from its first parsed header.
pub trait PacketBytes {
    /// Reads a `T` at byte `off`, or `None` if that is past the readable bytes.
    fn read<T>(&self, off: usize) -> Option<T>;

    /// As [`read`](Self::read), for the bytes of a payload (the BOOTP message), which a source
    /// may fetch differently from headers.
    #[inline(always)]
    fn read_payload<T>(&self, off: usize) -> Option<T> {
        self.read(off)
    }
}

/// An encapsulated Ethernet frame found inside a packet.
pub struct Encapsulation {
    pub kind: TunnelKind,
    pub vni: u32,
    /// Offset of the inner Ethernet header.
    pub inner: usize,
}

/// Parses the Ethernet header and VLAN tags at `off`. Returns the offset of the L3 header.
/// `record_vlan` is false for an inner frame: the event's VLAN describes the tag at this hop.
#[inline(always)]
pub fn parse_l2<B: PacketBytes>(
    b: &B,
    ev: &mut PacketEvent,
    off: usize,
    record_vlan: bool,
) -> Option<usize> {
    let Some(eth) = b.read::<EthHdr>(off) else {
        ev.flags |= event_flags::TRUNCATED;
        return None;
    };
    ev.dst_mac = eth.dst_addr;
    ev.src_mac = eth.src_addr;
    let mut proto = eth.ether_type;
    let mut off = off + EthHdr::LEN;
    for _ in 0..MAX_VLAN_TAGS {
        let tpid = u16::from_be(proto);
        if !ethertype::is_vlan(tpid) {
            break;
        }
        let Some(tag) = b.read::<VlanHdr>(off) else {
            ev.flags |= event_flags::TRUNCATED;
            return None;
        };
        // An out-of-band tag is outermost; otherwise the first in-packet tag is.
        if record_vlan && ev.vlan_source == VlanSource::None as u8 {
            ev.vlan_source = VlanSource::InPacket as u8;
            ev.vlan_tci = u16::from_be_bytes(tag.tci);
            ev.vlan_proto = tpid;
        }
        proto = tag.ether_type;
        off += VlanHdr::LEN;
    }
    ev.ether_type = proto;
    Some(off)
}

/// Parses IPv4 or IPv6 at `off`, then the transport header, DHCP and tunnel headers. For
/// anything else, keeps the first payload bytes in `l4_head`. Returns the encapsulated frame of
/// a VXLAN/Geneve packet.
#[inline(always)]
pub fn parse_l3<B: PacketBytes>(b: &B, ev: &mut PacketEvent, off: usize) -> Option<Encapsulation> {
    let ether_type = u16::from_be(ev.ether_type);
    let (proto, l4) = if ether_type == ethertype::IPV4 {
        parse_ipv4(b, ev, off)?
    } else if ether_type == ethertype::IPV6 {
        parse_ipv6(b, ev, off)?
    } else {
        if let Some(head) = b.read::<[u8; 8]>(off) {
            ev.l4_head = head;
            ev.flags |= event_flags::L4;
        }
        return None;
    };
    ev.ip_proto = proto;
    let Some(head) = b.read::<[u8; 8]>(l4) else {
        ev.flags |= event_flags::TRUNCATED;
        return None;
    };
    ev.l4_head = head;
    ev.flags |= event_flags::L4;
    if proto != ip_proto::UDP {
        return None;
    }
    let sport = u16::from_be_bytes([head[0], head[1]]);
    let dport = u16::from_be_bytes([head[2], head[3]]);
    let bootp_ports = |p: u16| p == bootp::SERVER_PORT || p == bootp::CLIENT_PORT;
    if bootp_ports(sport) && bootp_ports(dport) {
        parse_dhcp(b, ev, l4 + header_len::UDP);
        return None;
    }
    parse_tunnel(b, dport, l4 + header_len::UDP)
}

#[inline(always)]
fn parse_ipv4<B: PacketBytes>(b: &B, ev: &mut PacketEvent, off: usize) -> Option<(u8, usize)> {
    let Some(ip) = b.read::<Ipv4Hdr>(off) else {
        ev.flags |= event_flags::TRUNCATED;
        return None;
    };
    let ihl = ((ip.vihl & 0x0f) as usize) * 4;
    if ihl < Ipv4Hdr::LEN {
        return None;
    }
    ev.saddr[..4].copy_from_slice(&ip.src_addr);
    ev.daddr[..4].copy_from_slice(&ip.dst_addr);
    ev.ip_id = u16::from_ne_bytes(ip.id);
    ev.ip_proto = ip.proto;
    ev.flags |= event_flags::IPV4;
    if u16::from_be_bytes(ip.frags) & 0x1fff != 0 {
        ev.flags |= event_flags::FRAGMENT;
        return None;
    }
    Some((ip.proto, off + ihl))
}

#[inline(always)]
fn parse_ipv6<B: PacketBytes>(b: &B, ev: &mut PacketEvent, off: usize) -> Option<(u8, usize)> {
    // Version/class/flow (4), payload length (2), next header (1), hop limit (1), addresses.
    // One read at a time, each given up on at once: read together, the value of a read that
    // failed is undefined, and the compiler may carry it in a register the verifier of older
    // kernels (6.1) sees as never written.
    let Some(fixed) = b.read::<[u8; 8]>(off) else {
        ev.flags |= event_flags::TRUNCATED;
        return None;
    };
    let Some(saddr) = b.read::<[u8; 16]>(off + 8) else {
        ev.flags |= event_flags::TRUNCATED;
        return None;
    };
    ev.saddr = saddr;
    let Some(daddr) = b.read::<[u8; 16]>(off + 24) else {
        ev.flags |= event_flags::TRUNCATED;
        return None;
    };
    ev.daddr = daddr;
    ev.flags |= event_flags::IPV6;
    let mut next = fixed[6];
    let mut l4 = off + header_len::IPV6;
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        if next != ip_proto::HOPOPTS && next != ip_proto::ROUTING && next != ip_proto::DSTOPTS {
            break;
        }
        let ext = b.read::<[u8; 2]>(l4)?;
        next = ext[0];
        l4 += (ext[1] as usize + 1) * 8;
    }
    ev.ip_proto = next;
    if next == ip_proto::FRAGMENT {
        ev.flags |= event_flags::FRAGMENT;
        return None;
    }
    Some((next, l4))
}

#[inline(always)]
fn parse_tunnel<B: PacketBytes>(b: &B, dport: u16, off: usize) -> Option<Encapsulation> {
    let kind = match dport {
        tunnel_ports::VXLAN | tunnel_ports::VXLAN_LINUX => TunnelKind::Vxlan,
        tunnel_ports::GENEVE => TunnelKind::Geneve,
        _ => return None,
    };
    let hdr = b.read::<[u8; header_len::TUNNEL]>(off)?;
    let vni = u32::from_be_bytes([0, hdr[4], hdr[5], hdr[6]]);
    let inner = match kind {
        // The I flag says the VNI is valid; without it this is not a frame we can follow.
        TunnelKind::Vxlan if hdr[0] & 0x08 != 0 => off + header_len::TUNNEL,
        TunnelKind::Geneve if u16::from_be_bytes([hdr[2], hdr[3]]) == ethertype::TEB => {
            // Options length in 4-byte words, low 6 bits of the first byte.
            off + header_len::TUNNEL + ((hdr[0] & 0x3f) as usize) * 4
        }
        _ => return None,
    };
    Some(Encapsulation { kind, vni, inner })
}

#[inline(always)]
fn parse_dhcp<B: PacketBytes>(b: &B, ev: &mut PacketEvent, bootp: usize) {
    let (Some(head), Some(chaddr)) = (
        b.read_payload::<[u8; 12]>(bootp),
        b.read_payload::<[u8; 6]>(bootp + bootp::CHADDR_OFFSET),
    ) else {
        ev.flags |= event_flags::TRUNCATED;
        return;
    };
    ev.bootp_op = head[0];
    ev.dhcp_xid = u32::from_ne_bytes([
        head[bootp::XID_OFFSET],
        head[bootp::XID_OFFSET + 1],
        head[bootp::XID_OFFSET + 2],
        head[bootp::XID_OFFSET + 3],
    ]);
    ev.dhcp_secs = u16::from_ne_bytes([head[bootp::SECS_OFFSET], head[bootp::SECS_OFFSET + 1]]);
    ev.dhcp_chaddr = chaddr;
    ev.flags |= event_flags::DHCP;
    // Plain BOOTP has no cookie and no message type.
    if b.read_payload::<[u8; 4]>(bootp + bootp::COOKIE_OFFSET) != Some(bootp::MAGIC_COOKIE) {
        return;
    }
    let mut opt = bootp + bootp::OPTIONS_OFFSET;
    for _ in 0..DHCP_MAX_OPTIONS_SCANNED {
        // Both bytes are read whatever the code: one path through each option keeps the
        // verifier's work linear in the options scanned (a branch for PAD doubles it each time).
        let Some([code, len]) = b.read_payload::<[u8; 2]>(opt) else {
            return;
        };
        if code == bootp::OPT_END {
            return;
        }
        if code == bootp::OPT_MESSAGE_TYPE {
            ev.dhcp_msg_type = b.read_payload::<u8>(opt + 2).unwrap_or(0);
            return;
        }
        // PAD (0) is one byte, any other option 2 + its length: without a branch, as
        // `(code + 255) >> 8` is 0 for PAD and 1 otherwise.
        let not_pad = (code as usize + 255) >> 8;
        opt += 1 + not_pad * (1 + len as usize);
    }
}

/// Moves the parsed outer headers into the tunnel section and clears the per-layer fields, so
/// the inner frame can be parsed into the same event.
#[inline(always)]
pub fn enter_tunnel(ev: &mut PacketEvent, encap: &Encapsulation) {
    ev.tunnel.kind = encap.kind as u8;
    ev.tunnel.vni = encap.vni;
    ev.tunnel.outer_saddr = ev.saddr;
    ev.tunnel.outer_daddr = ev.daddr;
    ev.tunnel.outer_ipv6 = (ev.flags & event_flags::IPV6 != 0) as u8;
    ev.tunnel.outer_sport = u16::from_be_bytes([ev.l4_head[0], ev.l4_head[1]]);
    ev.flags = (ev.flags & event_flags::NO_MAC_HEADER) | event_flags::TUNNEL;
    // saddr, daddr and l4_head are contiguous (asserted in tracer-common): 40 bytes.
    // SAFETY: a 4-aligned field of a live event, 40 bytes to the end of l4_head.
    unsafe { crate::mem::zero_bytes::<40>(core::ptr::addr_of_mut!(ev.saddr) as *mut u8) };
    ev.ip_proto = 0;
    ev.ip_id = 0;
}
