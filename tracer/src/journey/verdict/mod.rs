//! Why a packet stopped where it did, as a typed [`Cause`]. Each cause is checked by its own
//! function, in a fixed order of how directly the evidence names it:
//!
//! 1. a drop by an OpenFlow meter in the datapath (the kernel says so), then an OpenFlow drop
//!    flow that counted the packet ([`openflow_drop`]);
//! 2. the packet reached the end of its side of a path that breaks ([`predicted::gap_reached`]);
//!    a frame there has nowhere to go, whatever the kernel then names;
//!    Then a kernel drop that names its reason ([`kernel_drop`]);
//! 3. a link ahead that is down or gone ([`link`]);
//! 4. a frame larger than the next MTU ([`link`]);
//! 5. a VLAN a filtering Linux bridge's port does not carry, or one the next OVS access port
//!    does not ([`vlan`]);
//! 6. a kernel drop that says little (`NOT_SPECIFIED`, `DEV_READY`);
//! 7. what the topology itself predicted ([`predicted`]);
//!
//! and, when nothing explains it, [`Cause::Unexplained`]. Before all of them, a packet a VIF
//! sends into an OVN logical network that drops it on the integration bridge ([`ovn`]) stops
//! there, even if that bridge is as far as the path lets the kernel see it. An exchange whose packets all arrived
//! but did not finish is judged by [`silence`].

mod cause;
mod kernel_drop;
mod link;
mod openflow_drop;
mod ovn;
mod ovn_cause;
mod predicted;
pub mod silence;
mod vlan;

use serde::{Serialize, Serializer};

#[cfg(test)]
pub use cause::OvnCause;
pub use cause::{Cause, Seen};

use super::{
    after_capture::AfterCapture,
    correlate::{OrientedHop, PacketGroup, Progress, Way},
};
use crate::{
    event::{Direction, HookKind, Hop, Vanished},
    path::HopKind,
    topology::Topology,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Delivered,
    Stopped,
    Unseen,
}

/// What saw the packet last where it stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopHook {
    /// The last hook that saw it.
    Seen(HookKind),
    /// A bridge whose OpenFlow flow dropped it.
    OpenFlow,
    /// An OVN integration bridge whose logical pipeline dropped it.
    LogicalPipeline,
    /// A Linux bridge that did not forward it to the next port.
    Forward,
}

impl StopHook {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seen(h) => h.as_str(),
            Self::OpenFlow => "openflow",
            Self::LogicalPipeline => "ovn-pipeline",
            Self::Forward => "forward",
        }
    }
}

impl std::fmt::Display for StopHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for StopHook {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Where a packet was last seen, or where it was stopped.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Place {
    pub ifname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    pub hook: StopHook,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    pub kind: HopKind,
}

/// The expected hop that did not see the packet.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Expected {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    pub kind: HopKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub verdict: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Place>,
    /// The cause in words (its `Display`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_next: Option<Expected>,
}

impl Verdict {
    pub fn delivered() -> Self {
        Self {
            verdict: Outcome::Delivered,
            stopped_at: None,
            reason: None,
            cause: None,
            expected_next: None,
        }
    }

    pub fn unseen(cause: Cause) -> Self {
        Self {
            verdict: Outcome::Unseen,
            reason: Some(cause.to_string()),
            cause: Some(cause),
            ..Self::delivered()
        }
    }

    pub fn stopped(at: Option<Place>, cause: Cause, next: Option<Expected>) -> Self {
        Self {
            verdict: Outcome::Stopped,
            stopped_at: at,
            reason: Some(cause.to_string()),
            cause: Some(cause),
            expected_next: next,
        }
    }
}

/// Facts from before and after the trace that explain a stop.
pub struct Evidence<'a> {
    pub before: &'a Topology,
    pub after: &'a Topology,
    /// Traced interfaces seen going away during the capture.
    pub vanished: &'a [Vanished],
    /// Whether `after` was read after the capture (else it is `before` again).
    pub after_capture: AfterCapture,
}

/// Where the packet stopped and which hop should have come next (oriented index).
struct Stop {
    at: Place,
    next: usize,
}

pub fn judge(
    group: &PacketGroup,
    path: &[OrientedHop<'_>],
    progress: &Progress,
    ev: &Evidence<'_>,
) -> Verdict {
    let mut v = judge_evidence(group, path, progress, ev);
    if let Some(cause) = v.cause.take() {
        let cause = ovn::name_meter_drop(cause, group, path, ev.after);
        v.reason = Some(cause.to_string());
        v.cause = Some(cause);
    }
    v
}

fn judge_evidence(
    group: &PacketGroup,
    path: &[OrientedHop<'_>],
    progress: &Progress,
    ev: &Evidence<'_>,
) -> Verdict {
    let dropped_there = |at, cause| stopped_there(path, at, StopHook::Seen(HookKind::Drop), cause);
    // OVN's logical network drops what a VIF sends before anything past its integration
    // bridge, whatever the datapath then reports (the bridge may be the path's last visible
    // place, as on the way to ovn-controller).
    if group.way == Way::Outbound {
        if let Some((i, cause)) = ovn::block_ahead(path, progress.furthest.unwrap_or(0)) {
            return stopped_there(path, i, StopHook::LogicalPipeline, cause);
        }
    }
    if progress.delivered() {
        let end = progress.end.unwrap_or_default();
        let stopped =
            kernel_drop::after_reaching(&group.sightings, &progress.places, end).or_else(|| {
                kernel_drop::at_unrouted_end(&group.sightings, &progress.places, path, end)
            });
        return match stopped {
            Some((at, cause)) => dropped_there(at, cause),
            None => Verdict::delivered(),
        };
    }
    let Some(furthest) = progress.furthest else {
        // Seen only being dropped: where it was, or, with no device yet, at the sender (a
        // reply dropped by its sender's own output hook).
        let sender = path.iter().position(|p| p.hop.kernel_visible);
        return match kernel_drop::only_drop(&group.sightings, &progress.places) {
            Some((at, cause)) => match at.or(sender) {
                Some(at) => dropped_there(at, cause),
                None => Verdict::unseen(cause),
            },
            None => Verdict::unseen(Cause::NotOnPath),
        };
    };
    // The furthest place is one a sighting had, so this finds it.
    let Some(last) = group
        .sightings
        .iter()
        .zip(&progress.places)
        .rfind(|(s, at)| s.hop.hook != HookKind::Drop && **at == Some(furthest))
        .map(|(s, _)| &s.hop)
    else {
        return Verdict::unseen(Cause::NotOnPath);
    };
    let here = path[furthest].hop;
    let mut stop = Stop {
        at: Place {
            ifname: if here.kind == HopKind::OvsBridge {
                here.name.clone()
            } else {
                last.ifname.clone()
            },
            netns: here.netns.clone(),
            hook: StopHook::Seen(last.hook),
            direction: last.hook.direction(),
            kind: here.kind,
        },
        next: furthest + 1,
    };
    let cause = find_cause(group, path, furthest, last, ev, &mut stop);
    // A bridge right after the last sighting forwards without a hook of ours: when the cause
    // is the port it forwards to, the stop is in that bridge.
    if let Some(p) = path.get(furthest + 1) {
        if p.hop.kind == HopKind::LinuxBridge
            && cause.is_about_the_next_port()
            && stop.at.hook != StopHook::OpenFlow
        {
            stop.at = Place {
                ifname: p.hop.name.clone(),
                netns: p.hop.netns.clone(),
                hook: StopHook::Forward,
                direction: None,
                kind: p.hop.kind,
            };
            stop.next = furthest + 2;
        }
    }
    let expected_next = path.get(stop.next).map(|p| Expected {
        name: p.hop.name.clone(),
        netns: p.hop.netns.clone(),
        kind: p.hop.kind,
        direction: p.direction,
        vlan: p.hop.vlan,
    });
    Verdict::stopped(Some(stop.at), cause, expected_next)
}

/// Stopped at the oriented hop `at`, for `cause`; the hop after it is the expected next.
fn stopped_there(path: &[OrientedHop<'_>], at: usize, hook: StopHook, cause: Cause) -> Verdict {
    let here = path[at].hop;
    let place = Place {
        ifname: here.name.clone(),
        netns: here.netns.clone(),
        hook,
        direction: None,
        kind: here.kind,
    };
    let next = path.get(at + 1).map(|p| Expected {
        name: p.hop.name.clone(),
        netns: p.hop.netns.clone(),
        kind: p.hop.kind,
        direction: p.direction,
        vlan: p.hop.vlan,
    });
    Verdict::stopped(Some(place), cause, next)
}

/// The checks, in the order of the module's documentation.
fn find_cause(
    group: &PacketGroup,
    path: &[OrientedHop<'_>],
    furthest: usize,
    last: &Hop,
    ev: &Evidence<'_>,
    stop: &mut Stop,
) -> Cause {
    // A meter's drop names itself; a drop flow whose counter grew meanwhile may count another
    // packet (a flood's copy back to its own port).
    if let Some(d) = kernel_drop::last(&group.sightings, path).filter(|d| d.is_meter_drop) {
        return d.cause;
    }
    if let Some((i, cause)) = openflow_drop::find(&group.sightings[0], path, furthest, ev) {
        let cause = ovn::name_openflow_drop(cause, ev.after);
        let bridge = match &cause {
            Cause::OpenflowDrop { bridge, .. } => Some((bridge, StopHook::OpenFlow)),
            Cause::Ovn(c) => c.bridge().map(|b| (b, StopHook::LogicalPipeline)),
            _ => None,
        };
        if let Some((bridge, hook)) = bridge {
            stop.at = Place {
                ifname: bridge.clone(),
                netns: None,
                hook,
                direction: None,
                kind: HopKind::OvsBridge,
            };
        }
        stop.next = i + 1;
        return cause;
    }
    if let Some(cause) = predicted::gap_reached(path, furthest) {
        return cause;
    }
    let drop = kernel_drop::last(&group.sightings, path);
    let down = link::down_ahead(path, furthest, ev);
    if let Some(d) = drop.as_ref().filter(|d| !d.says_little) {
        // A queue drop in front of a link that is down is the link's doing (a veth whose peer
        // is down has no carrier, and its queue drops what is sent to it).
        if !(d.is_queue_drop && down.is_some()) {
            return d.cause.clone();
        }
    }
    down.or_else(|| link::mtu_ahead(last, path, furthest, ev))
        .or_else(|| vlan::bridge_filter_ahead(path, furthest))
        .or_else(|| vlan::mismatch_ahead(last, path, furthest))
        .or(drop.map(|d| d.cause))
        .or_else(|| predicted::block_ahead(path, furthest))
        .unwrap_or_else(|| Cause::Unexplained {
            last_at: last.ifname.clone(),
            last_hook: last.hook,
            missing: (!ev.after_capture.was_read()).then_some(ev.after_capture),
        })
}
