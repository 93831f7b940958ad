//! Checks 2 and 6: the kernel dropped the packet. The packet did not arrive, so a drop of it (or
//! of its bridge-flood copy, which can come before the bridge's own copy is delivered) is
//! evidence whenever it happened; a drop that names its reason is preferred to one that does
//! not, and one that says little is kept for after the more telling checks. A drop that is
//! benign by nature is never evidence.

use super::cause::Cause;
use crate::{
    event::{HookKind, Sighting},
    journey::{benign, correlate::OrientedHop},
    path::Note,
};

pub struct Drop {
    pub cause: Cause,
    /// `NOT_SPECIFIED`, `DEV_READY` or no reason at all.
    pub says_little: bool,
    /// `QDISC_DROP`: a device's queue would not take it.
    pub is_queue_drop: bool,
    /// `OVS_DROP_METER`: an OpenFlow meter in the datapath dropped it.
    pub is_meter_drop: bool,
}

/// The kernel's reason for a packet an OpenFlow meter dropped in the datapath.
pub const OVS_DROP_METER: &str = "OVS_DROP_METER";

/// The drop that best explains the stop: the last one that names its reason, else the last
/// one. A drop that is benign by nature (a flood's copy to a down port, a Linux bridge's own
/// copy) is never it, whatever else is missing.
pub fn last(sightings: &[Sighting], path: &[OrientedHop<'_>]) -> Option<Drop> {
    let drops: Vec<&Sighting> = sightings
        .iter()
        .filter(|s| s.hop.hook == HookKind::Drop && benign::by_nature(s, path).is_none())
        .collect();
    let says_little = |s: &Sighting| s.hop.drop_reason.as_ref().is_none_or(|r| r.says_little());
    let d = drops
        .iter()
        .rev()
        .find(|d| !says_little(d))
        .or(drops.last())?;
    Some(Drop {
        cause: Cause::KernelDrop {
            reason: d.hop.drop_reason.clone(),
            ifname: d.hop.ifname.clone(),
            netns: d.hop.netns.clone(),
        },
        says_little: says_little(d),
        is_queue_drop: d
            .hop
            .drop_reason
            .as_ref()
            .is_some_and(|r| r.is_queue_drop()),
        is_meter_drop: d
            .hop
            .drop_reason
            .as_ref()
            .is_some_and(|r| r.0 == OVS_DROP_METER),
    })
}

/// A policy drop (see `DropReason::is_policy`), placed at or past the oriented index `end`:
/// the packet reached its last hop and a firewall there dropped it before its reader got it,
/// so it was not delivered after all. Returns where, and the cause.
pub fn after_reaching(
    sightings: &[Sighting],
    places: &[Option<usize>],
    end: usize,
) -> Option<(usize, Cause)> {
    sightings
        .iter()
        .zip(places)
        .filter(|(s, _)| s.hop.drop_reason.as_ref().is_some_and(|r| r.is_policy()))
        .filter_map(|(s, at)| Some((at.filter(|&i| i >= end)?, cause_of(s))))
        .next_back()
}

/// At a path's end in a namespace with no route to the destination (`Note::NoRoute`): a drop
/// there that names its reason (the router's `IP_OUTNOROUTES`) says the packet went no
/// further. Without one, the packet may have been routed by what discovery does not read (a
/// policy rule, another table), and it counts as arrived where the path ends.
pub fn at_unrouted_end(
    sightings: &[Sighting],
    places: &[Option<usize>],
    path: &[OrientedHop<'_>],
    end: usize,
) -> Option<(usize, Cause)> {
    // The note is on the path's last hop, which may be a bridge past the last interface.
    let unrouted = path.iter().skip(end).position(|p| {
        p.hop
            .notes
            .iter()
            .any(|n| matches!(n, Note::NoRoute { .. }))
    })? + end;
    sightings
        .iter()
        .zip(places)
        .filter(|(s, at)| at.is_some_and(|i| i >= end) && s.hop.hook == HookKind::Drop)
        .filter(|(s, _)| benign::by_nature(s, path).is_none())
        .filter(|(s, _)| s.hop.drop_reason.as_ref().is_some_and(|r| !r.says_little()))
        .map(|(s, _)| (unrouted, cause_of(s)))
        .next_back()
}

/// For a packet seen only being dropped: the last drop that names its reason, and where it
/// was (`None`: on no hop of the path, as a reply its sender's own output hook dropped before
/// it had a device).
pub fn only_drop(
    sightings: &[Sighting],
    places: &[Option<usize>],
) -> Option<(Option<usize>, Cause)> {
    sightings
        .iter()
        .zip(places)
        .filter(|(s, _)| s.hop.hook == HookKind::Drop)
        .filter(|(s, _)| s.hop.drop_reason.as_ref().is_some_and(|r| !r.says_little()))
        .map(|(s, at)| (*at, cause_of(s)))
        .next_back()
}

fn cause_of(s: &Sighting) -> Cause {
    Cause::KernelDrop {
        reason: s.hop.drop_reason.clone(),
        ifname: s.hop.ifname.clone(),
        netns: s.hop.netns.clone(),
    }
}
