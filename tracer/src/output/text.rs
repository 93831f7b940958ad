//! One line per hop, aligned so that a packet's path reads top to bottom.

use std::fmt::Write as _;

use crate::event::Hop;

pub fn hop_line(hop: &Hop) -> String {
    let mut line = format!(
        "{:>+11.6}s  {}  {:<16} {:<15} {:<11} {} > {}",
        hop.t_ns as f64 / 1e9,
        &hop.fingerprint[..8.min(hop.fingerprint.len())],
        hop.netns,
        hop.ifname,
        hop.hook,
        hop.src_mac,
        hop.dst_mac,
    );
    match &hop.vlan {
        Some(v) => write!(line, "  vlan {:<4}", v.id).unwrap(),
        None => line.push_str("  vlan -   "),
    }
    match &hop.ip {
        Some(ip) => match (ip.sport, ip.dport) {
            (Some(s), Some(d)) if ip.version == 6 => {
                write!(line, "  [{}]:{} > [{}]:{}", ip.src, s, ip.dst, d).unwrap()
            }
            (Some(s), Some(d)) => write!(line, "  {}:{} > {}:{}", ip.src, s, ip.dst, d).unwrap(),
            _ => write!(line, "  {} > {} proto {}", ip.src, ip.dst, ip.proto).unwrap(),
        },
        None => write!(line, "  ethertype {}", hop.ethertype).unwrap(),
    }
    if let Some(i) = &hop.icmp {
        write!(line, "  icmp type {} id {} seq {}", i.kind, i.id, i.seq).unwrap();
    }
    if let Some(d) = &hop.dhcp {
        write!(line, "  DHCP {} xid {}", d.message, d.xid).unwrap();
    }
    if let Some(t) = &hop.tunnel {
        write!(
            line,
            "  in {} vni {} {} > {}",
            t.kind, t.vni, t.outer_src, t.outer_dst
        )
        .unwrap();
    }
    if let Some(o) = &hop.ovs {
        if let Some(a) = &o.action {
            write!(line, "  ovs {a}").unwrap();
        }
        if let Some(v) = &o.push_vlan {
            write!(line, " vid {}", v.vid).unwrap();
        }
        if let Some(p) = o.port {
            write!(line, " port {p}").unwrap();
            if let Some(n) = &o.port_name {
                write!(line, " ({n})").unwrap();
            }
        }
        if let Some(u) = o.upcall {
            write!(line, "  upcall {u}").unwrap();
        }
    }
    write!(line, "  len {}", hop.len).unwrap();
    if let Some(reason) = &hop.drop_reason {
        write!(line, "  DROPPED: {reason}").unwrap();
    }
    if hop.truncated {
        line.push_str("  (truncated)");
    }
    if let Some(s) = &hop.snapshot {
        write!(line, "\n    {s}").unwrap();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DropReason, HookKind};

    fn hop() -> Hop {
        Hop::example()
    }

    #[test]
    fn dhcp_line_has_place_addresses_and_message() {
        let line = hop_line(&hop());
        assert!(
            line.starts_with("  +0.001500s  01234567  ns-client"),
            "{line}"
        );
        for part in [
            "veth-c",
            "egress",
            "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff",
            "vlan -",
            "0.0.0.0:68 > 255.255.255.255:67",
            "DHCP DISCOVER xid 0x01020304",
            "len 342",
        ] {
            assert!(line.contains(part), "missing {part:?} in {line}");
        }
        assert!(!line.contains("DROPPED"));
    }

    #[test]
    fn drops_say_why() {
        let mut h = hop();
        h.hook = HookKind::Drop;
        h.drop_reason = Some(DropReason("NETFILTER_DROP".into()));
        assert!(hop_line(&h).ends_with("DROPPED: NETFILTER_DROP"));
    }
}
