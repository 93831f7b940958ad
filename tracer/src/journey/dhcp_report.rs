//! The DHCP exchange of a journey: which messages were seen and delivered, who answered, and
//! whether the address offered is the one the server's host entry reserves.

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use super::{correlate::PacketGroup, verdict::Outcome};
use crate::{event::DhcpMessage, path::ExpectedPath};

#[derive(Debug, Default, Serialize)]
pub struct DhcpMessageSeen {
    pub seen: bool,
    /// Reached the far end: the server for DISCOVER/REQUEST, the VM's tap for OFFER/ACK.
    pub delivered: bool,
}

#[derive(Debug, Serialize)]
pub struct DhcpReport {
    #[serde(rename = "DISCOVER")]
    pub discover: DhcpMessageSeen,
    #[serde(rename = "OFFER")]
    pub offer: DhcpMessageSeen,
    #[serde(rename = "REQUEST")]
    pub request: DhcpMessageSeen,
    #[serde(rename = "ACK")]
    pub ack: DhcpMessageSeen,
    /// The server that answered (its DHCP server identifier, else the reply's source).
    pub server: Option<Ipv4Addr>,
    /// The program whose answer was seen (`dnsmasq`, or `ovn-controller` for OVN native DHCP),
    /// as the path expected it; `None` when no OFFER or ACK was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    /// `yiaddr` of the last OFFER or ACK.
    pub offered_ip: Option<Ipv4Addr>,
    /// What dnsmasq's host files reserve for this MAC.
    pub reserved_ip: Option<Ipv4Addr>,
    /// Whether the offered address is the reserved one (`None` when either is unknown).
    pub matches_host_entry: Option<bool>,
}

impl DhcpReport {
    fn slot(&mut self, m: DhcpMessage) -> Option<&mut DhcpMessageSeen> {
        match m {
            DhcpMessage::Discover => Some(&mut self.discover),
            DhcpMessage::Offer => Some(&mut self.offer),
            DhcpMessage::Request => Some(&mut self.request),
            DhcpMessage::Ack => Some(&mut self.ack),
            _ => None,
        }
    }

    /// What an OFFER or ACK says: the address, and the server (its identifier option, else
    /// the packet's source).
    fn learn_lease(&mut self, g: &PacketGroup) {
        if let Some(m) = g
            .sightings
            .iter()
            .find_map(|s| super::dhcp::decode(&s.snapshot))
        {
            self.offered_ip = Some(m.yiaddr)
                .filter(|ip| !ip.is_unspecified())
                .or(self.offered_ip);
            self.server = m.server_id.or(self.server);
        }
        if self.server.is_none() {
            self.server = g
                .sightings
                .iter()
                .find_map(|s| match s.hop.ip.as_ref()?.src {
                    IpAddr::V4(a) => Some(a),
                    IpAddr::V6(_) => None,
                });
        }
    }
}

/// From the packets and how each was judged.
pub fn build<'a>(
    judged: impl Iterator<Item = (&'a PacketGroup, Outcome)>,
    path: &ExpectedPath,
) -> DhcpReport {
    let mut r = DhcpReport {
        discover: DhcpMessageSeen::default(),
        offer: DhcpMessageSeen::default(),
        request: DhcpMessageSeen::default(),
        ack: DhcpMessageSeen::default(),
        server: None,
        answered_by: None,
        offered_ip: None,
        reserved_ip: path.dhcp_server.as_ref().and_then(|s| s.reserved_ip),
        matches_host_entry: None,
    };
    for (g, outcome) in judged {
        let Some(m) = g.sightings.iter().find_map(|s| s.hop.dhcp_message()) else {
            continue;
        };
        let Some(slot) = r.slot(m) else {
            continue;
        };
        slot.seen = true;
        slot.delivered |= outcome == Outcome::Delivered;
        if m.carries_lease() {
            r.learn_lease(g);
        }
    }
    if r.offer.seen || r.ack.seen {
        r.answered_by = path.dhcp_server.as_ref().map(|s| s.program.clone());
    }
    r.matches_host_entry = match (r.offered_ip, r.reserved_ip) {
        (Some(o), Some(want)) => Some(o == want),
        _ => None,
    };
    r
}
