//! The vocabulary of a hop, as enums: which hook saw the packet, which way it was going, where
//! its VLAN tag was, why the OVS datapath sent it up, why the kernel dropped it (the DHCP
//! message and the OVS action have their own files). Their
//! serde names are the JSON's (and the recordings'); `Display` prints the same words, so text
//! and JSON agree and no other module spells them.

use std::fmt;

use serde::{Deserialize, Serialize};
use tracer_common::{wire::ovs_upcall, Hook};

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
        self.is_unspecified() || self.is_device_not_ready()
    }

    /// `NOT_SPECIFIED`: the kernel gave no reason.
    pub fn is_unspecified(&self) -> bool {
        self.0 == "NOT_SPECIFIED"
    }

    /// A policy refused the packet: a firewall (`NETFILTER_DROP`), a socket filter, a TC
    /// program. Unlike the stack's own drops (`NO_SOCKET` for a broadcast no UDP socket
    /// wanted, next to the raw socket a DHCP client reads), such a drop at the last hop means
    /// the packet never reached its reader.
    pub fn is_policy(&self) -> bool {
        matches!(
            self.0.as_str(),
            "NETFILTER_DROP" | "SOCKET_FILTER" | "TC_INGRESS" | "TC_EGRESS" | "TC_DROP"
        )
    }

    /// `QDISC_DROP`: the device's queue would not take the packet.
    pub fn is_queue_drop(&self) -> bool {
        self.0 == "QDISC_DROP"
    }

    /// `DEV_READY`: the device to send through was down.
    pub fn is_device_not_ready(&self) -> bool {
        self.0 == "DEV_READY"
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
        assert_eq!(
            serde_json::to_string(&TagSource::InPacket).unwrap(),
            "\"in-packet\""
        );
        assert_eq!(format!("{:<8}|", HookKind::Egress), "egress  |");
    }
}
