//! Header parser shared by every hook: Ethernet, up to two VLAN tags, IPv4, UDP/TCP ports and
//! DHCP. It is generic over where the bytes come from ([`PacketBytes`]) so that the TC programs
//! (skb load helpers) and the drop probe (kernel memory reads) parse identically.

use network_types::{eth::EthHdr, ip::Ipv4Hdr, vlan::VlanHdr};
use tracer_common::{event_flags, PacketEvent, VlanSource};

const ETH_P_IP: u16 = 0x0800;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const BOOTP_SERVER_PORT: u16 = 67;
const BOOTP_CLIENT_PORT: u16 = 68;
/// Offsets inside a BOOTP message (RFC 2131 figure 1).
const BOOTP_XID: usize = 4;
const BOOTP_CHADDR: usize = 28;
const BOOTP_COOKIE: usize = 236;
const BOOTP_OPTIONS: usize = 240;
const DHCP_MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
const DHCP_OPT_PAD: u8 = 0;
const DHCP_OPT_END: u8 = 255;
const DHCP_OPT_MESSAGE_TYPE: u8 = 53;
/// Option 53 comes first from every client and server we know; the bound keeps the verifier's
/// state space small while tolerating a few options before it.
const DHCP_MAX_OPTIONS_SCANNED: usize = 8;
/// Outer tags followed: QinQ (802.1ad + 802.1Q).
const MAX_VLAN_TAGS: usize = 2;

/// Read access to the bytes of one packet, from its first parsed header.
pub trait PacketBytes {
    /// Reads a `T` at byte `off`, or `None` if that is past the readable bytes.
    fn read<T>(&self, off: usize) -> Option<T>;
}

/// Parses the Ethernet header and VLAN tags. Returns the offset of the L3 header.
#[inline(always)]
pub fn parse_l2<B: PacketBytes>(b: &B, ev: &mut PacketEvent) -> Option<usize> {
    let eth: EthHdr = b.read(0)?;
    ev.dst_mac = eth.dst_addr;
    ev.src_mac = eth.src_addr;
    let mut proto = eth.ether_type;
    let mut off = EthHdr::LEN;
    for _ in 0..MAX_VLAN_TAGS {
        let tpid = u16::from_be(proto);
        if tpid != ETH_P_8021Q && tpid != ETH_P_8021AD {
            break;
        }
        let Some(tag) = b.read::<VlanHdr>(off) else {
            ev.flags |= event_flags::TRUNCATED;
            return None;
        };
        // An out-of-band tag is outermost; otherwise the first in-packet tag is.
        if ev.vlan_source == VlanSource::None as u8 {
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

/// Parses IPv4, the L4 ports and DHCP, starting at `off`. Stops quietly at anything else.
#[inline(always)]
pub fn parse_l3<B: PacketBytes>(b: &B, ev: &mut PacketEvent, off: usize) {
    if u16::from_be(ev.ether_type) != ETH_P_IP {
        return;
    }
    let Some(ip) = b.read::<Ipv4Hdr>(off) else {
        ev.flags |= event_flags::TRUNCATED;
        return;
    };
    let ihl = ((ip.vihl & 0x0f) as usize) * 4;
    if ihl < Ipv4Hdr::LEN {
        return;
    }
    ev.saddr = ip.src_addr;
    ev.daddr = ip.dst_addr;
    ev.ip_proto = ip.proto;
    ev.flags |= event_flags::IPV4;
    // Non-first fragments carry no L4 header.
    if u16::from_be_bytes(ip.frags) & 0x1fff != 0 {
        return;
    }
    if ip.proto != IPPROTO_UDP && ip.proto != IPPROTO_TCP {
        return;
    }
    let l4 = off + ihl;
    let Some(ports) = b.read::<[u8; 4]>(l4) else {
        ev.flags |= event_flags::TRUNCATED;
        return;
    };
    ev.sport = u16::from_ne_bytes([ports[0], ports[1]]);
    ev.dport = u16::from_ne_bytes([ports[2], ports[3]]);
    ev.flags |= event_flags::L4_PORTS;
    let sport = u16::from_be(ev.sport);
    let dport = u16::from_be(ev.dport);
    let bootp_ports = |p: u16| p == BOOTP_SERVER_PORT || p == BOOTP_CLIENT_PORT;
    if ip.proto == IPPROTO_UDP && bootp_ports(sport) && bootp_ports(dport) {
        // UDP header is 8 bytes.
        parse_dhcp(b, ev, l4 + 8);
    }
}

#[inline(always)]
fn parse_dhcp<B: PacketBytes>(b: &B, ev: &mut PacketEvent, bootp: usize) {
    let (Some(head), Some(chaddr)) = (
        b.read::<[u8; 8]>(bootp),
        b.read::<[u8; 6]>(bootp + BOOTP_CHADDR),
    ) else {
        ev.flags |= event_flags::TRUNCATED;
        return;
    };
    ev.bootp_op = head[0];
    ev.dhcp_xid = u32::from_ne_bytes([
        head[BOOTP_XID],
        head[BOOTP_XID + 1],
        head[BOOTP_XID + 2],
        head[BOOTP_XID + 3],
    ]);
    ev.dhcp_chaddr = chaddr;
    ev.flags |= event_flags::DHCP;
    // Plain BOOTP has no cookie and no message type.
    if b.read::<[u8; 4]>(bootp + BOOTP_COOKIE) != Some(DHCP_MAGIC_COOKIE) {
        return;
    }
    let mut opt = bootp + BOOTP_OPTIONS;
    for _ in 0..DHCP_MAX_OPTIONS_SCANNED {
        let Some(code) = b.read::<u8>(opt) else {
            return;
        };
        match code {
            DHCP_OPT_PAD => opt += 1,
            DHCP_OPT_END => return,
            _ => {
                let Some(len) = b.read::<u8>(opt + 1) else {
                    return;
                };
                if code == DHCP_OPT_MESSAGE_TYPE {
                    ev.dhcp_msg_type = b.read::<u8>(opt + 2).unwrap_or(0);
                    return;
                }
                opt += 2 + len as usize;
            }
        }
    }
}

/// Whether a destination MAC is the broadcast address (DHCP replies may be broadcast).
#[inline(always)]
pub fn is_broadcast(mac: &[u8; 6]) -> bool {
    *mac == [0xff; 6]
}
