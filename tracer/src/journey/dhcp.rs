//! The DHCP fields the kernel side does not extract (the offered address and the server
//! identifier), decoded from an event's snapshot with `dhcproto`.

use std::net::Ipv4Addr;

use dhcproto::{
    v4::{DhcpOption, Message, OptionCode},
    Decodable as _, Decoder,
};
use tracer_common::wire::{ethertype, header_len};

pub struct DhcpFields {
    pub yiaddr: Ipv4Addr,
    pub server_id: Option<Ipv4Addr>,
}

/// Decodes the BOOTP message in a snapshot that starts at the Ethernet header (802.1Q/QinQ
/// tags allowed, IPv4 only: DHCPv4). `None` if the snapshot is not such a packet or is cut
/// before the options end.
pub fn decode(frame: &[u8]) -> Option<DhcpFields> {
    // The EtherType is the Ethernet header's last two bytes, and each VLAN tag's.
    let mut off = header_len::ETHERNET - 2;
    let mut ether_type = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    while ethertype::is_vlan(ether_type) {
        off += header_len::VLAN_TAG;
        ether_type = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    }
    if ether_type != ethertype::IPV4 {
        return None;
    }
    let ip = off + 2;
    let ihl = usize::from(frame.get(ip)? & 0x0f) * 4;
    let bootp = frame.get(ip + ihl + header_len::UDP..)?;
    let msg = Message::decode(&mut Decoder::new(bootp)).ok()?;
    let server_id = match msg.opts().get(OptionCode::ServerIdentifier) {
        Some(DhcpOption::ServerIdentifier(a)) => Some(*a),
        _ => None,
    };
    Some(DhcpFields {
        yiaddr: msg.yiaddr(),
        server_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::{v4, Encodable as _, Encoder};

    fn frame(vlan: bool) -> Vec<u8> {
        let mut msg = v4::Message::default();
        msg.set_opcode(v4::Opcode::BootReply)
            .set_yiaddr(Ipv4Addr::new(10, 10, 10, 2));
        msg.opts_mut()
            .insert(DhcpOption::MessageType(v4::MessageType::Offer));
        msg.opts_mut()
            .insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 10, 10, 3)));
        let mut bootp = Vec::new();
        msg.encode(&mut Encoder::new(&mut bootp)).unwrap();
        let mut f = vec![0xff; 12];
        if vlan {
            f.extend([0x81, 0x00, 0x03, 0xe8]);
        }
        f.extend([0x08, 0x00]);
        f.extend([
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 10, 10, 3, 10, 10, 10, 2,
        ]);
        f.extend([0, 67, 0, 68, 0, 0, 0, 0]);
        f.extend(bootp);
        f
    }

    #[test]
    fn offered_address_and_server_from_a_tagged_or_untagged_frame() {
        for vlan in [false, true] {
            let d = decode(&frame(vlan)).unwrap();
            assert_eq!(d.yiaddr, Ipv4Addr::new(10, 10, 10, 2));
            assert_eq!(d.server_id, Some(Ipv4Addr::new(10, 10, 10, 3)));
        }
    }

    #[test]
    fn cut_or_foreign_frames_decode_to_none() {
        let f = frame(false);
        assert!(decode(&f[..100]).is_none());
        assert!(decode(&[0u8; 10]).is_none());
        let mut arp = f.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(decode(&arp).is_none());
    }
}
