//! What a journey looks for, and so where its packets are expected to go.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::{
    mac::Mac,
    path::{self, Destination, ExpectedPath, Goal},
    topology::Topology,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Dhcp,
    Icmp,
    Any,
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
