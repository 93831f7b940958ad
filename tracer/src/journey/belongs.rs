//! Which sightings are the traced MAC's traffic. Past a router a packet no longer carries the
//! MAC, so the kernel also reports packets by the destination's address (see
//! `FilterSpec::mac_or_host`); of those, only the ones between the MAC's own address and the
//! destination are its traffic, not another sender's talking to the same address.

use std::net::IpAddr;

use crate::{event::Hop, mac::Mac};

pub struct Belongs {
    mac: Mac,
    destination: Option<IpAddr>,
    /// The MAC's own address, from its first IP packet seen with its MAC.
    sender: Option<IpAddr>,
}

impl Belongs {
    pub fn new(mac: Mac, destination: Option<IpAddr>) -> Self {
        Self {
            mac,
            destination,
            sender: None,
        }
    }

    pub fn keeps(&mut self, hop: &Hop) -> bool {
        let by_mac = hop.src_mac == self.mac || hop.dst_mac == self.mac;
        if hop.src_mac == self.mac && self.sender.is_none() {
            self.sender = hop.ip.as_ref().map(|ip| ip.src);
        }
        let (Some(ip), Some(dst), Some(sender)) = (&hop.ip, self.destination, self.sender) else {
            // Before the sender's address is known, what the kernel matched is kept.
            return true;
        };
        by_mac
            || (ip.src == sender && ip.dst == dst)
            || (ip.src == dst && ip.dst == sender)
            // DHCP names the MAC in chaddr, not in the frame, when a relay forwards it.
            || hop.dhcp.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(src: [u8; 6], dst: [u8; 6], ips: Option<(&str, &str)>) -> Hop {
        Hop::example_between(src, dst, ips)
    }

    #[test]
    fn past_a_router_only_the_mac_s_own_address_pair_is_kept() {
        let vm = [2, 0, 0, 0, 0, 1];
        let router = [2, 0, 0, 0, 0, 9];
        let far = [2, 0, 0, 0, 0, 7];
        let mut b = Belongs::new(Mac(vm), Some("10.90.0.2".parse().unwrap()));
        // Routed, before the VM's address is known: kept.
        assert!(b.keeps(&hop(router, far, Some(("10.78.0.8", "10.90.0.2")))));
        assert!(b.keeps(&hop(vm, router, Some(("10.78.0.50", "10.90.0.2")))));
        assert!(b.keeps(&hop(router, far, Some(("10.78.0.50", "10.90.0.2")))));
        assert!(b.keeps(&hop(far, router, Some(("10.90.0.2", "10.78.0.50")))));
        // Another sender to the same address, past the router.
        assert!(!b.keeps(&hop(router, far, Some(("10.78.0.8", "10.90.0.2")))));
        assert!(!b.keeps(&hop(far, router, Some(("10.90.0.2", "10.78.0.8")))));
        // Anything with the MAC, and frames without IP (the kernel matched them by MAC).
        assert!(b.keeps(&hop(router, vm, Some(("10.90.0.5", "10.78.0.50")))));
        assert!(b.keeps(&hop(vm, [0xff; 6], None)));
    }
}
