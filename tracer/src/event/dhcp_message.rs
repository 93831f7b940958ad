//! The DHCP message a hop carried.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tracer_common::wire::bootp;

/// A BOOTP/DHCPv4 message by its type option (53), or by its `op` when the option was not seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DhcpMessage {
    Discover,
    Offer,
    Request,
    Decline,
    Ack,
    Nak,
    Release,
    Inform,
    /// From a client, with no message type seen.
    BootRequest,
    /// From a server, with no message type seen.
    BootReply,
    /// A message type this build does not name.
    Other(u8),
}

impl DhcpMessage {
    pub fn from_wire(op: u8, msg_type: u8) -> Self {
        use bootp::message as m;
        match msg_type {
            m::DISCOVER => Self::Discover,
            m::OFFER => Self::Offer,
            m::REQUEST => Self::Request,
            m::DECLINE => Self::Decline,
            m::ACK => Self::Ack,
            m::NAK => Self::Nak,
            m::RELEASE => Self::Release,
            m::INFORM => Self::Inform,
            0 if op == bootp::OP_REQUEST => Self::BootRequest,
            0 if op == bootp::OP_REPLY => Self::BootReply,
            other => Self::Other(other),
        }
    }

    /// Sent by a server towards the client.
    pub fn is_reply(self) -> bool {
        matches!(self, Self::Offer | Self::Ack | Self::Nak | Self::BootReply)
    }

    /// Carries an address offer or assignment (`yiaddr`).
    pub fn carries_lease(self) -> bool {
        matches!(self, Self::Offer | Self::Ack)
    }
}

impl fmt::Display for DhcpMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            Self::Discover => "DISCOVER",
            Self::Offer => "OFFER",
            Self::Request => "REQUEST",
            Self::Decline => "DECLINE",
            Self::Ack => "ACK",
            Self::Nak => "NAK",
            Self::Release => "RELEASE",
            Self::Inform => "INFORM",
            Self::BootRequest => "BOOTREQUEST",
            Self::BootReply => "BOOTREPLY",
            Self::Other(n) => return f.pad(&format!("DHCP-{n}")),
        };
        f.pad(word)
    }
}

impl std::str::FromStr for DhcpMessage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let known = [
            Self::Discover,
            Self::Offer,
            Self::Request,
            Self::Decline,
            Self::Ack,
            Self::Nak,
            Self::Release,
            Self::Inform,
            Self::BootRequest,
            Self::BootReply,
        ];
        if let Some(m) = known.into_iter().find(|m| m.to_string() == s) {
            return Ok(m);
        }
        s.strip_prefix("DHCP-")
            .and_then(|n| n.parse().ok())
            .map(Self::Other)
            .ok_or_else(|| format!("unknown DHCP message {s:?}"))
    }
}

impl Serialize for DhcpMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DhcpMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootp_without_message_type() {
        assert_eq!(DhcpMessage::from_wire(2, 0).to_string(), "BOOTREPLY");
        assert_eq!(DhcpMessage::from_wire(1, 5), DhcpMessage::Ack);
        assert_eq!(DhcpMessage::from_wire(1, 42).to_string(), "DHCP-42");
        assert!(DhcpMessage::Nak.is_reply() && !DhcpMessage::Request.is_reply());
    }

    #[test]
    fn json_names_round_trip() {
        for m in [
            DhcpMessage::Discover,
            DhcpMessage::BootReply,
            DhcpMessage::Other(42),
        ] {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(serde_json::from_str::<DhcpMessage>(&json).unwrap(), m);
        }
        assert!(serde_json::from_str::<DhcpMessage>("\"HELLO\"").is_err());
    }
}
