//! A TCP segment's flags, read from the bytes a hook captured: whether a connection attempt
//! (SYN) was answered by a reset (RST) is what a one-packet problem turns on. The probes keep
//! only the transport header's first 8 bytes in the event; the flags are in the snapshot.

use serde::Serialize;
use tracer_common::wire::{ethertype, header_len, ip_proto, tcp};

use crate::event::{HookKind, Sighting};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpFlag {
    Syn,
    Ack,
    Fin,
    Rst,
    Psh,
    Urg,
}

impl TcpFlag {
    const ALL: [(TcpFlag, u8); 6] = [
        (Self::Syn, tcp::SYN),
        (Self::Ack, tcp::ACK),
        (Self::Fin, tcp::FIN),
        (Self::Rst, tcp::RST),
        (Self::Psh, tcp::PSH),
        (Self::Urg, tcp::URG),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Syn => "SYN",
            Self::Ack => "ACK",
            Self::Fin => "FIN",
            Self::Rst => "RST",
            Self::Psh => "PSH",
            Self::Urg => "URG",
        }
    }
}

/// The flags of the first TCP segment a TC hook captured among `sightings` (their bytes start
/// at the Ethernet header), if the capture reaches them.
pub fn flags(sightings: &[Sighting]) -> Option<Vec<TcpFlag>> {
    let s = sightings.iter().find(|s| {
        matches!(s.hop.hook, HookKind::Ingress | HookKind::Egress)
            && s.hop
                .ip
                .as_ref()
                .is_some_and(|ip| ip.proto == ip_proto::TCP)
    })?;
    let bits = flags_byte(&s.snapshot)?;
    Some(
        TcpFlag::ALL
            .iter()
            .filter(|(_, bit)| bits & bit != 0)
            .map(|(f, _)| *f)
            .collect(),
    )
}

/// The flags byte of the TCP segment in an Ethernet frame (up to two VLAN tags, IPv4 with its
/// options or IPv6 without extension headers).
fn flags_byte(frame: &[u8]) -> Option<u8> {
    let word = |at: usize| Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]));
    let mut at = header_len::ETHERNET - 2;
    let mut ether_type = word(at)?;
    while ethertype::is_vlan(ether_type) {
        at += header_len::VLAN_TAG;
        ether_type = word(at)?;
    }
    let l3 = at + 2;
    let l4 = match ether_type {
        ethertype::IPV4 => {
            let ihl = usize::from(frame.get(l3)? & 0x0f) * 4;
            (*frame.get(l3 + IPV4_PROTO_OFFSET)? == ip_proto::TCP).then_some(l3 + ihl)?
        }
        ethertype::IPV6 => (*frame.get(l3 + IPV6_NEXT_HEADER_OFFSET)? == ip_proto::TCP)
            .then_some(l3 + header_len::IPV6)?,
        _ => return None,
    };
    frame.get(l4 + tcp::FLAGS_OFFSET).copied()
}

const IPV4_PROTO_OFFSET: usize = 9;
const IPV6_NEXT_HEADER_OFFSET: usize = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_are_read_behind_vlan_tags_and_ip_options() {
        // Ethernet, one 802.1Q tag, IPv4 with 4 bytes of options, TCP RST+ACK.
        let mut f = vec![0u8; 12];
        f.extend([0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);
        let mut ip = vec![0x46, 0, 0, 44, 0, 0, 0, 0, 64, 6, 0, 0];
        ip.extend([10, 0, 0, 1, 10, 0, 0, 2, 1, 1, 1, 1]);
        f.extend(ip);
        let mut seg = vec![0u8; 20];
        seg[13] = tcp::RST | tcp::ACK;
        f.extend(seg);
        assert_eq!(flags_byte(&f), Some(tcp::RST | tcp::ACK));
        // Cut before the flags, or not TCP: nothing.
        assert_eq!(flags_byte(&f[..f.len() - 7]), None);
        let mut udp = f.clone();
        udp[18 + 9] = ip_proto::UDP;
        assert_eq!(flags_byte(&udp), None);
    }
}
