//! A VLAN-filtering Linux bridge (`vlan_filtering 1`, as bridge CNI and nmstate configure):
//! a frame arriving on a port is put in the port's PVID if untagged (dropped if it has none)
//! and dropped if tagged with a VLAN the port does not carry; leaving, it must be in one of the
//! port's VLANs, and goes out untagged where the port says so. The bridge's own interface is a
//! port like the others (`bridge vlan ... self`). Inside the bridge the packet's VLAN is the
//! one it was classified in.

use super::{walk::Carried, Note, PathHop};
use crate::topology::{BridgeVlans, Interface, Topology};

/// Which way the frame crosses the port.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// From the port into the bridge.
    Entering,
    /// From the bridge out of the port (or up its own interface).
    Leaving,
}

/// Applies the filter of `port` (a port of `bridge`, or the bridge itself) to the carried
/// packet; true if it drops the frame.
pub fn filter(
    bridge: &Interface,
    port: &Interface,
    crossing: Crossing,
    carried: &mut Carried,
    hop: &mut PathHop,
) -> bool {
    if !bridge.vlan_filtering {
        return false;
    }
    let empty = BridgeVlans::default();
    let vlans = port.bridge_vlans.as_ref().unwrap_or(&empty);
    let frame = carried.pkt.vlan;
    let inside = match crossing {
        Crossing::Entering => frame.or(vlans.pvid),
        Crossing::Leaving => frame,
    };
    let passes = inside.is_some_and(|v| vlans.vids.contains(&v));
    if !passes {
        hop.notes.push(Note::BridgeVlanFiltered {
            port: port.name.clone(),
            vlan: frame,
            leaving: crossing == Crossing::Leaving,
        });
        return true;
    }
    match crossing {
        // Inside the bridge: the VLAN it was classified in.
        Crossing::Entering => carried.pkt.vlan = inside,
        Crossing::Leaving => {
            let untagged = inside.is_some_and(|v| vlans.untagged.contains(&v));
            carried.pkt.vlan = if untagged { None } else { inside };
            hop.vlan = carried.pkt.vlan;
        }
    }
    false
}

/// The bridge `port` is a port of, if it is a Linux bridge.
pub fn bridge_of<'t>(topo: &'t Topology, port: &Interface) -> Option<&'t Interface> {
    port.master
        .and_then(|m| topo.interface(m))
        .filter(|b| b.kind == crate::topology::LinkKind::Bridge)
}
