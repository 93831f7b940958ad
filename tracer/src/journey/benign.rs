//! Drops that are not the packet's fate: copies that a flood or a bridge made, and a receiver's
//! own stack discarding a copy its DHCP client already read from a raw socket. They are real
//! kernel drops, so they are kept and classified rather than hidden; a drop that explains a stop
//! is never benign.

use serde::Serialize;

use super::correlate::OrientedHop;
use crate::{
    event::{HookKind, Sighting},
    path::HopKind,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Benign {
    /// `DEV_READY`: a flood copy to a port that is down (a bridge's own internal port).
    FloodToDownPort,
    /// A Linux bridge's copy of a broadcast for its own interface, where nothing takes it.
    BridgeLocalCopy,
    /// After the packet reached its end: the receiver's stack discarding the copy that a raw
    /// socket (the DHCP client's) already read.
    ReceiverStackCopy,
    /// Another copy of a packet that was delivered.
    CopyOfDeliveredPacket,
}

impl Benign {
    /// `n` of them, in words.
    pub fn count(self, n: usize) -> String {
        let (one, many) = match self {
            Self::FloodToDownPort => ("flood copy to a down port", "flood copies to down ports"),
            Self::BridgeLocalCopy => ("bridge's local copy", "bridges' local copies"),
            Self::ReceiverStackCopy => ("receiver's stack copy", "receiver's stack copies"),
            Self::CopyOfDeliveredPacket => {
                ("copy of a delivered packet", "copies of a delivered packet")
            }
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }
}

/// For each sighting of a packet (in the group's order), whether it is a benign drop.
/// `delivered_at`: the kernel time the packet reached its end, if it did; `explains`: whether a
/// drop is the one the verdict names as the cause (never benign).
pub fn classify(
    sightings: &[Sighting],
    path: &[OrientedHop<'_>],
    delivered_at: Option<u64>,
    explains: impl Fn(&Sighting) -> bool,
) -> Vec<Option<Benign>> {
    sightings
        .iter()
        .map(|s| {
            if s.hop.hook != HookKind::Drop || explains(s) {
                return None;
            }
            by_nature(s, path).or(match delivered_at {
                Some(t) if s.hop.t_ns > t => Some(Benign::ReceiverStackCopy),
                Some(_) => Some(Benign::CopyOfDeliveredPacket),
                // A packet that stopped: any other drop may be why; it stays in view.
                None => None,
            })
        })
        .collect()
}

/// A drop that is benign whatever became of the packet: a flood's copy to a port that is down,
/// a Linux bridge's copy for its own interface. Never the cause of a stop.
pub fn by_nature(s: &Sighting, path: &[OrientedHop<'_>]) -> Option<Benign> {
    if s.hop.hook != HookKind::Drop {
        return None;
    }
    let reason = s.hop.drop_reason.as_ref()?;
    let at_linux_bridge = || {
        path.iter().any(|p| {
            p.hop.kind == HopKind::LinuxBridge
                && p.hop.netns_ino == Some(s.hop.netns_ino)
                && p.hop.name == s.hop.ifname
        })
    };
    if reason.is_device_not_ready() {
        Some(Benign::FloodToDownPort)
    } else if reason.is_unspecified() && at_linux_bridge() {
        Some(Benign::BridgeLocalCopy)
    } else {
        None
    }
}
