//! First of all: an OVN integration bridge at or past the furthest hop whose logical network drops
//! the packet before any flow counts it: the VIF's `iface-id` names no logical port (or one
//! bound elsewhere), the port is disabled, or its `port_security` does not allow the MAC.
//! The logical network names the cause more exactly than whatever the datapath then reports.

use super::cause::{Cause, OvnCause};
use crate::{
    journey::correlate::OrientedHop,
    path::{HopKind, Note, PORT_SECURITY_STAGE},
};

/// The oriented index of the integration bridge that drops the packet, and the cause.
pub fn block_ahead(path: &[OrientedHop<'_>], furthest: usize) -> Option<(usize, Cause)> {
    path.iter()
        .enumerate()
        .skip(furthest)
        .filter(|(_, p)| p.hop.kind == HopKind::OvsBridge)
        .find_map(|(i, p)| {
            let bridge = p.hop.name.clone();
            p.hop.notes.iter().find_map(|n| {
                let cause = match n {
                    Note::OvnPortNotBound { iface_id, bound_on } => {
                        Cause::Ovn(OvnCause::PortNotBound {
                            iface_id: iface_id.clone(),
                            bound_on: bound_on.clone(),
                            bridge: bridge.clone(),
                        })
                    }
                    Note::OvnPortDisabled { port } => Cause::Ovn(OvnCause::PortDisabled {
                        port: port.clone(),
                        bridge: bridge.clone(),
                    }),
                    Note::OvnPortSecurity { port, mac } => Cause::Ovn(OvnCause::PortSecurity {
                        port: port.clone(),
                        mac: *mac,
                        stage: PORT_SECURITY_STAGE,
                        bridge: bridge.clone(),
                    }),
                    _ => return None,
                };
                Some((i, cause))
            })
        })
}
