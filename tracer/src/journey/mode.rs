//! What a journey looks for, and so where its packets are expected to go.

use std::net::IpAddr;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::{
    event::{HookKind, Sighting},
    mac::Mac,
    path::{self, reach, Destination, ExpectedPath, Goal, Unresolved},
    topology::{IfaceKey, Topology},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Dhcp,
    Icmp,
    Any,
}

/// The path a run is judged against, and, when its packets' destination has no path on this
/// host, why (the path then ends where they were seen farthest from the sender).
pub struct Plan {
    pub path: ExpectedPath,
    pub unplaced: Option<Unplaced>,
}

/// A destination no path on this host leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unplaced {
    pub ip: IpAddr,
    pub why: Unresolved,
}

/// Where the packets should go: to the DHCP server for DHCP; otherwise to their destination
/// (given, or learned from the first packet); with none known, towards the uplink, and on a
/// host without one (a lab, a network node's view) the way to the DHCP server.
pub fn expected_path(
    topo: &Topology,
    mac: Mac,
    mode: Mode,
    destination: Option<Destination>,
) -> Result<ExpectedPath> {
    match (mode, destination) {
        (Mode::Dhcp, _) => path::compute(topo, mac, &Goal::Dhcp),
        (_, Some(d)) => path::compute(topo, mac, &Goal::Destination(d)),
        (_, None) => path::compute(topo, mac, &Goal::Uplink)
            .or_else(|e| path::compute(topo, mac, &Goal::Dhcp).map_err(|_| e)),
    }
}

/// [`expected_path`] for a run that has seen `sightings`: a destination with no path on this
/// host, or no destination and nowhere to go, is a verdict to give, not an error. The path
/// then ends at the link farthest from the sender (in its layer-2 domain) where its packets
/// were seen, or at its first link.
pub fn plan(
    topo: &Topology,
    mac: Mac,
    mode: Mode,
    destination: Option<Destination>,
    sightings: &[Sighting],
) -> Result<Plan> {
    let placed = |path| Plan {
        path,
        unplaced: None,
    };
    match (mode, destination) {
        (Mode::Dhcp, _) => expected_path(topo, mac, mode, None).map(placed),
        (_, Some(d)) => match path::unresolved(topo, mac, d) {
            None => expected_path(topo, mac, mode, Some(d)).map(placed),
            Some(why) => Ok(Plan {
                path: to_farthest_seen(topo, mac, sightings)?,
                unplaced: Some(Unplaced { ip: d.ip, why }),
            }),
        },
        (_, None) => expected_path(topo, mac, mode, None)
            .or_else(|_| to_farthest_seen(topo, mac, sightings))
            .map(placed),
    }
}

/// The path to the link of the sender's layer-2 domain farthest from it where a packet of the
/// sender was seen (not only dropped), or to its first link.
fn to_farthest_seen(topo: &Topology, mac: Mac, sightings: &[Sighting]) -> Result<ExpectedPath> {
    let reach = reach::reach(topo, mac)?;
    let own: Vec<IfaceKey> = reach
        .domains
        .first()
        .map(|d| d.links.iter().map(|l| l.key).collect())
        .unwrap_or_default();
    let farthest = sightings
        .iter()
        .filter(|s| s.hop.hook != HookKind::Drop)
        .filter_map(|s| {
            let key = IfaceKey {
                netns: s.hop.netns_ino,
                ifindex: s.hop.ifindex,
            };
            own.iter().position(|&k| k == key)
        })
        .max()
        .unwrap_or(0);
    let to = own
        .get(farthest)
        .copied()
        .unwrap_or(path::first_link(topo, mac)?);
    path::compute(topo, mac, &Goal::Interface(to))
}

/// Where a run attaches before its first packet: exactly the expected path when it is known
/// (DHCP, or a destination given that has one), else everywhere a frame from the MAC can go,
/// so that its first packet is followed wherever it turns out to be going.
pub enum Watch {
    Path(ExpectedPath),
    Reach(reach::Reach),
}

impl Watch {
    pub fn of(topo: &Topology, mac: Mac, mode: Mode, dst: Option<Destination>) -> Result<Self> {
        match (mode, dst) {
            (Mode::Dhcp, _) => expected_path(topo, mac, mode, None).map(Self::Path),
            (_, Some(d)) if path::unresolved(topo, mac, d).is_none() => {
                expected_path(topo, mac, mode, Some(d)).map(Self::Path)
            }
            _ => reach::reach(topo, mac).map(Self::Reach),
        }
    }

    /// Whether an Open vSwitch bridge is on it: the datapath hooks are needed.
    pub fn crosses_ovs(&self) -> bool {
        match self {
            Self::Path(p) => p.hops.iter().any(|h| h.kind == path::HopKind::OvsBridge),
            Self::Reach(r) => r.crosses_ovs(),
        }
    }
}
