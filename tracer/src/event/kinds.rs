//! The vocabulary of a hop, as enums: which hook saw the packet, which way it was going, where
//! its VLAN tag was, which DHCP message it carried, what the OVS datapath did with it. Their
//! serde names are the JSON's (and the recordings'); `Display` prints the same words, so text
//! and JSON agree and no other module spells them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tracer_common::{
    wire::{bootp, ovs_action, ovs_upcall},
    Hook,
};

/// Where an observation of a packet comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HookKind {
    /// TC classifier, ingress: the interface received the packet.
    #[serde(rename = "ingress")]
    Ingress,
    /// TC classifier, egress: the interface is sending it.
    #[serde(rename = "egress")]
    Egress,
    /// `kfree_skb`: the kernel dropped it.
    #[serde(rename = "drop")]
    Drop,
    /// The packet entered the Open vSwitch datapath through a vport.
    #[serde(rename = "ovs-receive")]
    OvsReceive,
    /// The datapath executed one action of its flow on it.
    #[serde(rename = "ovs-action")]
    OvsAction,
    /// The datapath sent it to ovs-vswitchd.
    #[serde(rename = "ovs-upcall")]
    OvsUpcall,
    /// The datapath sent it out of a vport.
    #[serde(rename = "ovs-send")]
    OvsSend,
    /// A hook number this build does not know (a newer eBPF object).
    #[serde(rename = "unknown")]
    Unknown,
    /// No hook: a hop the kernel cannot see (a patch port) that the packet must have crossed.
    /// Only in journey rows.
    #[serde(rename = "inferred")]
    Inferred,
}

impl HookKind {
    pub fn from_raw(raw: u8) -> Self {
        match Hook::from_raw(raw) {
            Some(Hook::TcIngress) => Self::Ingress,
            Some(Hook::TcEgress) => Self::Egress,
            Some(Hook::Drop) => Self::Drop,
            Some(Hook::OvsReceive) => Self::OvsReceive,
            Some(Hook::OvsAction) => Self::OvsAction,
            Some(Hook::OvsUpcall) => Self::OvsUpcall,
            Some(Hook::OvsSend) => Self::OvsSend,
            None => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Egress => "egress",
            Self::Drop => "drop",
            Self::OvsReceive => "ovs-receive",
            Self::OvsAction => "ovs-action",
            Self::OvsUpcall => "ovs-upcall",
            Self::OvsSend => "ovs-send",
            Self::Unknown => "unknown",
            Self::Inferred => "inferred",
        }
    }

    /// The TC direction, for the TC hooks.
    pub fn direction(self) -> Option<Direction> {
        match self {
            Self::Ingress => Some(Direction::Ingress),
            Self::Egress => Some(Direction::Egress),
            _ => None,
        }
    }

    /// One of the Open vSwitch datapath hooks.
    pub fn is_ovs(self) -> bool {
        matches!(
            self,
            Self::OvsReceive | Self::OvsAction | Self::OvsUpcall | Self::OvsSend
        )
    }

    /// A hook whose event names a vport by its netdev (receive, send), rather than by the
    /// port an action outputs to.
    pub fn is_ovs_vport(self) -> bool {
        matches!(self, Self::OvsReceive | Self::OvsSend)
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Which way a packet crosses an interface, as its TC hooks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn flipped(self) -> Self {
        match self {
            Self::Ingress => Self::Egress,
            Self::Egress => Self::Ingress,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Egress => "egress",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where a hop's VLAN tag was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TagSource {
    /// Out of band in the skb (`skb->vlan_tci`): not counted in the frame length.
    #[serde(rename = "accelerated")]
    Accelerated,
    /// An 802.1Q/802.1ad header in the frame.
    #[serde(rename = "in-packet")]
    InPacket,
}

/// The encapsulation around a tunnelled packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encapsulation {
    Vxlan,
    Geneve,
    Unknown,
}

impl fmt::Display for Encapsulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Vxlan => "vxlan",
            Self::Geneve => "geneve",
            Self::Unknown => "unknown",
        })
    }
}

/// Why the datapath sent a packet to ovs-vswitchd.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpcallKind {
    /// No datapath flow matched.
    Miss,
    /// A flow's `userspace` action (e.g. `controller`).
    Action,
    Other,
}

impl UpcallKind {
    pub fn from_raw(cmd: u8) -> Self {
        match cmd {
            ovs_upcall::MISS => Self::Miss,
            ovs_upcall::ACTION => Self::Action,
            _ => Self::Other,
        }
    }
}

impl fmt::Display for UpcallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Miss => "miss",
            Self::Action => "action",
            Self::Other => "other",
        })
    }
}

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

/// One action of an Open vSwitch datapath flow (`enum ovs_action_attr`). The ones pathtrace
/// reasons about are variants; the rest keep the name the running kernel's BTF gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OvsAction {
    Output,
    Userspace,
    Set,
    PushVlan,
    PopVlan,
    Sample,
    Recirc,
    Hash,
    Other(String),
}

impl OvsAction {
    /// From the uapi number; `name` (from BTF) names the ones without a variant.
    pub fn from_wire(value: u8, name: Option<String>) -> Self {
        match value {
            ovs_action::OUTPUT => Self::Output,
            ovs_action::USERSPACE => Self::Userspace,
            ovs_action::SET => Self::Set,
            ovs_action::PUSH_VLAN => Self::PushVlan,
            ovs_action::POP_VLAN => Self::PopVlan,
            ovs_action::SAMPLE => Self::Sample,
            ovs_action::RECIRC => Self::Recirc,
            ovs_action::HASH => Self::Hash,
            _ => Self::Other(name.unwrap_or_else(|| format!("action#{value}"))),
        }
    }

    fn from_name(s: &str) -> Self {
        [
            Self::Output,
            Self::Userspace,
            Self::Set,
            Self::PushVlan,
            Self::PopVlan,
            Self::Sample,
            Self::Recirc,
            Self::Hash,
        ]
        .into_iter()
        .find(|a| a.to_string() == s)
        .unwrap_or_else(|| Self::Other(s.to_string()))
    }
}

impl fmt::Display for OvsAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Output => "output",
            Self::Userspace => "userspace",
            Self::Set => "set",
            Self::PushVlan => "push_vlan",
            Self::PopVlan => "pop_vlan",
            Self::Sample => "sample",
            Self::Recirc => "recirc",
            Self::Hash => "hash",
            Self::Other(name) => name,
        })
    }
}

impl Serialize for OvsAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OvsAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_name(&String::deserialize(d)?))
    }
}

/// A kernel drop reason by its name in the running kernel (`enum skb_drop_reason` without
/// the `SKB_DROP_REASON_` prefix, or `reason#N`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DropReason(pub String);

impl DropReason {
    /// From the kernel's number; `name` (from BTF) when the running kernel has one.
    pub fn from_wire(value: u32, name: Option<String>) -> Self {
        Self(name.unwrap_or_else(|| format!("reason#{value}")))
    }

    /// A reason that says nothing about the cause: `NOT_SPECIFIED`, or `DEV_READY`, which is
    /// mostly a flood copy to a bridge's own internal port that is down (a copy that was never
    /// going anywhere).
    pub fn says_little(&self) -> bool {
        matches!(self.0.as_str(), "NOT_SPECIFIED" | "DEV_READY")
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_round_trip() {
        for h in [
            HookKind::Ingress,
            HookKind::OvsReceive,
            HookKind::Drop,
            HookKind::Inferred,
        ] {
            let json = serde_json::to_string(&h).unwrap();
            assert_eq!(json, format!("\"{h}\""));
            assert_eq!(serde_json::from_str::<HookKind>(&json).unwrap(), h);
        }
        for m in [
            DhcpMessage::Discover,
            DhcpMessage::BootReply,
            DhcpMessage::Other(42),
        ] {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(serde_json::from_str::<DhcpMessage>(&json).unwrap(), m);
        }
        assert_eq!(
            serde_json::to_string(&TagSource::InPacket).unwrap(),
            "\"in-packet\""
        );
        let ct: OvsAction = serde_json::from_str("\"ct\"").unwrap();
        assert_eq!(ct, OvsAction::Other("ct".into()));
        let push: OvsAction = serde_json::from_str("\"push_vlan\"").unwrap();
        assert_eq!(push, OvsAction::PushVlan);
    }

    #[test]
    fn bootp_without_message_type() {
        assert_eq!(DhcpMessage::from_wire(2, 0).to_string(), "BOOTREPLY");
        assert_eq!(DhcpMessage::from_wire(1, 5), DhcpMessage::Ack);
        assert_eq!(DhcpMessage::from_wire(1, 42).to_string(), "DHCP-42");
        assert!(DhcpMessage::Nak.is_reply() && !DhcpMessage::Request.is_reply());
    }

    #[test]
    fn actions_without_a_variant_keep_their_kernel_name() {
        assert_eq!(OvsAction::from_wire(4, None), OvsAction::PushVlan);
        assert_eq!(
            OvsAction::from_wire(12, Some("ct".into())).to_string(),
            "ct"
        );
        assert_eq!(OvsAction::from_wire(99, None).to_string(), "action#99");
    }
}
