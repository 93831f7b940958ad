//! One packet's journey as a person reads it: its events in the order they happened (kernel
//! time), consecutive events at one device or under one bridge as one step, the datapath's
//! actions under the bridge whose flow produced them, patch crossings as one inferred step, and
//! benign drops counted apart. Built from the report's rows; the default view prints it.

use std::collections::BTreeMap;

use crate::{
    event::{HookKind, OvsAction, UpcallKind},
    journey::{attribute::Attributed, benign::Benign, rows::JourneyHop},
    path::HopKind,
};

/// One line of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Hooks of one device, in order.
    Device {
        t_us: f64,
        name: String,
        netns: Option<String>,
        hooks: Vec<HookKind>,
        vlan: Option<u16>,
    },
    /// What one Open vSwitch bridge did, in order, and the rule that decided it when it did
    /// more than hand the packet to NORMAL (a rewrite, a drop: what a reader needs).
    Bridge {
        t_us: f64,
        bridge: String,
        upcall: Option<UpcallKind>,
        actions: Vec<String>,
        flow: Option<String>,
    },
    /// Hops the packet must have crossed without a hook of ours (patch ports; the server that
    /// sent a reply), inferred from the path.
    Inferred { names: Vec<String>, kind: HopKind },
    /// A drop that is not benign: it may be why the packet stopped.
    Drop {
        t_us: f64,
        at: String,
        netns: Option<String>,
        reason: String,
    },
}

impl Step {
    /// Where it happened: a device (with its namespace), a bridge, the inferred hops.
    pub fn place(&self) -> String {
        match self {
            Self::Device { name, netns, .. }
            | Self::Drop {
                at: name, netns, ..
            } => {
                format!("{name}@{}", netns.as_deref().unwrap_or("-"))
            }
            Self::Bridge { bridge, .. } => bridge.clone(),
            Self::Inferred { names, .. } => names.join(" "),
        }
    }

    #[cfg(test)]
    pub fn t_us(&self) -> Option<f64> {
        match self {
            Self::Device { t_us, .. } | Self::Bridge { t_us, .. } | Self::Drop { t_us, .. } => {
                Some(*t_us)
            }
            Self::Inferred { .. } => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    pub steps: Vec<Step>,
    /// Benign drops, by class, folded out of the steps.
    pub benign: BTreeMap<Benign, usize>,
}

impl Timeline {
    pub fn benign_total(&self) -> usize {
        self.benign.values().sum()
    }
}

/// Rows in time order. Inferred rows have no time of their own: each goes right after the event
/// before it in path order.
fn in_time_order(rows: &[JourneyHop]) -> Vec<&JourneyHop> {
    let mut last = 0.0;
    let mut keyed: Vec<(f64, usize, &JourneyHop)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if !r.inferred {
                last = r.t_us;
            }
            (if r.inferred { last } else { r.t_us }, i, r)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    keyed.into_iter().map(|(_, _, r)| r).collect()
}

pub fn build(rows: &[JourneyHop]) -> Timeline {
    let mut t = Timeline::default();
    for r in in_time_order(rows) {
        if let Some(b) = r.benign {
            *t.benign.entry(b).or_default() += 1;
            continue;
        }
        let step = match (&r.attributed, r.hook) {
            (Some(a), _) => bridge_step(r, a),
            (None, HookKind::Inferred) => Step::Inferred {
                names: vec![r.name.clone()],
                kind: r.kind,
            },
            (None, HookKind::Drop) => Step::Drop {
                t_us: r.t_us,
                at: r.name.clone(),
                netns: r.netns.clone(),
                reason: r
                    .drop_reason
                    .as_ref()
                    .map_or("?".into(), ToString::to_string),
            },
            (None, hook) => Step::Device {
                t_us: r.t_us,
                name: r.name.clone(),
                netns: r.netns.clone(),
                hooks: vec![hook],
                vlan: r.vlan,
            },
        };
        push(&mut t.steps, step);
    }
    t
}

fn bridge_step(r: &JourneyHop, a: &Attributed) -> Step {
    let ovs = r.ovs.as_ref();
    let action = ovs.and_then(|o| o.action.as_ref()).map(|action| {
        match (action, ovs.and_then(|o| o.push_vlan.as_ref())) {
            (OvsAction::PushVlan, Some(v)) => format!("push_vlan {}", v.vid),
            (OvsAction::Output, _) => format!(
                "output {}",
                ovs.and_then(|o| o.port_name.clone())
                    .or_else(|| ovs.and_then(|o| o.port).map(|p| format!("port {p}")))
                    .unwrap_or_default()
            ),
            (other, _) => other.to_string(),
        }
    });
    Step::Bridge {
        t_us: r.t_us,
        bridge: a.bridge.clone(),
        upcall: ovs.and_then(|o| o.upcall),
        actions: action.into_iter().collect(),
        flow: a.flow.clone().filter(|_| !a.plain_normal),
    }
}

/// Appends `step`, or merges it into the last step when both are the same place.
fn push(steps: &mut Vec<Step>, step: Step) {
    match (steps.last_mut(), step) {
        (
            Some(Step::Device {
                name, netns, hooks, ..
            }),
            Step::Device {
                name: n,
                netns: ns,
                hooks: h,
                ..
            },
        ) if *name == n && *netns == ns => {
            for hook in h {
                if !hooks.contains(&hook) {
                    hooks.push(hook);
                }
            }
        }
        (
            Some(Step::Bridge {
                bridge, actions, ..
            }),
            Step::Bridge {
                bridge: b,
                upcall: u,
                actions: a,
                ..
            },
        ) if *bridge == b && u.is_none() => {
            actions.extend(a);
        }
        (Some(Step::Inferred { names, kind }), Step::Inferred { names: n, kind: k })
            if *kind == k =>
        {
            names.extend(n)
        }
        (_, step) => steps.push(step),
    }
}
