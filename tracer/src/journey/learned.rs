//! Where a MAC's packets go, learned from its first one: `trace --mac` without `--dst`. Only
//! the packet says where it is going (a VM's routes are not the host's): its destination
//! address, and its destination MAC as the first segment's next hop.

use crate::{
    event::{HookKind, Sighting},
    mac::Mac,
    path::Destination,
};

/// The destination of the earliest IP packet `mac` sent to one address, among `sightings`; a
/// frame to a broadcast MAC names no next hop, and a packet from no address yet (a DHCP
/// client's), to a group or to everyone (neighbour discovery, a broadcast) goes nowhere one
/// path leads.
pub fn destination(sightings: &[Sighting], mac: Mac) -> Option<Destination> {
    sightings
        .iter()
        .filter(|s| s.hop.hook != HookKind::Drop && s.hop.src_mac == mac)
        .filter_map(|s| {
            let ip = s.hop.ip.as_ref().filter(|ip| {
                !ip.src.is_unspecified() && !ip.dst.is_multicast() && !is_broadcast(ip.dst)
            })?;
            let unicast = s.hop.dst_mac.0[0] & 1 == 0;
            Some((
                s.ktime_ns,
                Destination {
                    ip: ip.dst,
                    mac: unicast.then_some(s.hop.dst_mac),
                },
            ))
        })
        .min_by_key(|(t, _)| *t)
        .map(|(_, d)| d)
}

fn is_broadcast(ip: std::net::IpAddr) -> bool {
    matches!(ip, std::net::IpAddr::V4(v4) if v4.is_broadcast())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Hop;

    fn sighting(t: u64, src: [u8; 6], dst: [u8; 6], ips: Option<(&str, &str)>) -> Sighting {
        Sighting {
            hop: Hop::example_between(src, dst, ips),
            ktime_ns: t,
            snapshot: Vec::new(),
        }
    }

    #[test]
    fn the_earliest_ip_packet_the_mac_sent_names_the_destination() {
        let vm = [2, 0, 0, 0, 0, 1];
        let router = [2, 0, 0, 0, 0, 9];
        let seen = [
            // A reply to it, earlier: not its own packet.
            sighting(5, router, vm, Some(("10.90.0.2", "10.78.0.50"))),
            // A DHCP DISCOVER from no address yet.
            sighting(6, vm, [0xff; 6], Some(("0.0.0.0", "255.255.255.255"))),
            sighting(20, vm, router, Some(("10.78.0.50", "10.91.0.7"))),
            sighting(10, vm, router, Some(("10.78.0.50", "10.90.0.2"))),
        ];
        let d = destination(&seen, Mac(vm)).unwrap();
        assert_eq!(d.ip, "10.90.0.2".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(d.mac, Some(Mac(router)));
        // A broadcast frame names no next hop; nothing at all names nothing, nor a packet to
        // everyone.
        let everyone = [sighting(
            1,
            vm,
            [0xff; 6],
            Some(("10.78.0.50", "255.255.255.255")),
        )];
        assert_eq!(destination(&everyone, Mac(vm)), None);
        let b = [sighting(
            1,
            vm,
            [0xff; 6],
            Some(("10.78.0.50", "10.78.0.255")),
        )];
        assert_eq!(destination(&b, Mac(vm)).unwrap().mac, None);
        assert_eq!(destination(&seen[..2], Mac(vm)), None);
    }
}
