//! What the kernel side keeps, as the commands ask for it, and its one translation into the
//! contract's [`Filter`].

use std::net::IpAddr;

use tracer_common::{filter_flags, Filter};

use crate::mac::Mac;

/// Packets to report; every criterion given must match (`None`/`false`: any).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterSpec {
    /// From or to this MAC, or DHCP with this client hardware address.
    pub mac: Option<Mac>,
    /// Only DHCP/BOOTP.
    pub dhcp: bool,
    /// Carrying this VLAN id at the hop.
    pub vlan: Option<u16>,
    /// From or to this address.
    pub host: Option<IpAddr>,
    /// With `mac` and `host`: either one is enough (a routed packet keeps its addresses, not
    /// its sender's MAC).
    pub mac_or_host: bool,
    /// With `mac`: also the MAC's own addresses, learned by the probes from its first packets
    /// (a routed packet keeps its sender's address, not its MAC).
    pub learn_sender: bool,
    /// This IP protocol.
    pub proto: Option<u8>,
    /// This TCP/UDP source or destination port.
    pub port: Option<u16>,
    /// Also report kernel drops of matching packets.
    pub drops: bool,
    /// Bytes of each matching packet to capture.
    pub snapshot_len: u16,
}

impl FilterSpec {
    pub fn to_kernel(&self) -> Filter {
        let mut f = Filter {
            snapshot_len: self.snapshot_len,
            ..Filter::default()
        };
        if let Some(mac) = self.mac {
            f.flags |= filter_flags::MAC;
            f.mac = mac.0;
        }
        if self.dhcp {
            f.flags |= filter_flags::DHCP;
        }
        if let Some(vid) = self.vlan {
            f.flags |= filter_flags::VLAN;
            f.vlan_id = vid;
        }
        if let Some(addr) = self.host {
            f.flags |= filter_flags::ADDR;
            match addr {
                IpAddr::V4(a) => f.addr[..4].copy_from_slice(&a.octets()),
                IpAddr::V6(a) => {
                    f.addr = a.octets();
                    f.addr_ipv6 = 1;
                }
            }
        }
        if let Some(proto) = self.proto {
            f.flags |= filter_flags::PROTO;
            f.ip_proto = proto;
        }
        if let Some(port) = self.port {
            f.flags |= filter_flags::PORT;
            // The kernel compares it with the header's bytes.
            f.port = port.to_be();
        }
        if self.drops {
            f.flags |= filter_flags::DROPS;
        }
        if self.mac_or_host && self.mac.is_some() && self.host.is_some() {
            f.flags |= filter_flags::MAC_OR_ADDR;
        }
        if self.learn_sender && self.mac.is_some() {
            f.flags |= filter_flags::LEARN_SENDER;
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_criterion_sets_its_flag_and_value() {
        let spec = FilterSpec {
            mac: Some(Mac([2, 0, 0, 0, 0, 1])),
            dhcp: true,
            vlan: Some(1000),
            host: Some("fe80::1".parse().unwrap()),
            proto: Some(17),
            port: Some(67),
            drops: true,
            snapshot_len: 128,
            mac_or_host: true,
            learn_sender: true,
        };
        let f = spec.to_kernel();
        let all = filter_flags::MAC_OR_ADDR
            | filter_flags::LEARN_SENDER
            | filter_flags::MAC
            | filter_flags::DHCP
            | filter_flags::VLAN
            | filter_flags::ADDR
            | filter_flags::PROTO
            | filter_flags::PORT
            | filter_flags::DROPS;
        assert_eq!(f.flags, all);
        assert_eq!((f.vlan_id, f.ip_proto, f.addr_ipv6), (1000, 17, 1));
        assert_eq!(f.port, 67u16.to_be());
        assert_eq!(f.snapshot_len, 128);
        assert_eq!(FilterSpec::default().to_kernel().flags, 0);
        // Either alone means nothing: both criteria must be there to be either-or.
        let mac_only = FilterSpec {
            mac: spec.mac,
            mac_or_host: true,
            ..FilterSpec::default()
        };
        assert_eq!(mac_only.to_kernel().flags, filter_flags::MAC);
        // Learning is the MAC's: without one there is nothing to learn from.
        let no_mac = FilterSpec {
            learn_sender: true,
            ..FilterSpec::default()
        };
        assert_eq!(no_mac.to_kernel().flags, 0);
    }
}
