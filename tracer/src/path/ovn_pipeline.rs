//! The integration bridge of an OVN chassis: its OpenFlow tables are OVN's logical pipelines
//! compiled by ovn-controller, so the path reads the logical network instead of simulating
//! them. A packet from a VM's port enters the logical switch of the port its `iface-id` names;
//! OVN drops it there when no logical port has that name, when another chassis binds it, when
//! the port is disabled, or when its `port_security` does not list the packet's MAC (stage
//! `ls_in_apply_port_sec`, `ls_in_port_sec_l2` before OVN 22.06).

use serde::Serialize;

use super::{
    walk::{Carried, Step, Visit},
    HopKind, Note, PathHop,
};
use crate::{
    mac::Mac,
    topology::{graph::Node, ovn::Ovn, sources::untrusted::shown, Topology},
};

/// The logical side of a hop: the logical switch and port the packet is in there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogicalHop {
    pub datapath: String,
    pub port: String,
}

/// OVN manages bridge `b` (it is the integration bridge of a discovered OVN chassis).
pub fn manages(topo: &Topology, b: usize) -> bool {
    topo.ovn
        .as_ref()
        .is_some_and(|o| o.integration_bridge == topo.ovs_bridges[b].name)
}

pub fn visit(topo: &Topology, b: usize, step: Step, carried: &Carried, hop: &mut PathHop) -> Visit {
    let Some(ovn) = topo.ovn.as_ref() else {
        return Visit::Pass;
    };
    hop.kind = HopKind::OvsBridge;
    hop.name = topo.ovs_bridges[b].name.clone();
    hop.kernel_visible = false;
    let iface_id = match step.prev {
        Some(Node::OvsPort(pb, pin)) if pb == b => topo.ovs_bridges[b].ports[pin]
            .interfaces
            .iter()
            .find_map(|i| i.external_ids.get("iface-id")),
        _ => None,
    };
    hop.notes.push(Note::OvnPipeline);
    let Some(iface_id) = iface_id else {
        return Visit::Pass;
    };
    match entry_block(ovn, iface_id, carried.pkt.src) {
        Ok(logical) => {
            hop.notes.push(Note::OvnLogicalPort {
                switch: logical.datapath.clone(),
                port: logical.port.clone(),
            });
            hop.logical = Some(logical);
            // On the way to ovn-controller's native DHCP: without options no flow hands the
            // request to it (it is switched like any broadcast).
            let gap = matches!(step.next, Some(Node::Dhcp(_)))
                .then(|| ovn.port_named(iface_id).and_then(|r| ovn.dhcp_gap(r)))
                .flatten();
            match gap {
                Some(gap) => {
                    hop.notes.push(Note::OvnNoDhcpOptions {
                        port: shown(iface_id),
                        gap,
                    });
                    Visit::Blocked
                }
                None => Visit::Pass,
            }
        }
        Err(note) => {
            hop.notes.push(note);
            Visit::Blocked
        }
    }
}

/// Where a packet from the VIF `iface_id` with source `mac` enters the logical network, or the
/// note that says why OVN drops it there. What a database that was not read would say is not
/// guessed.
fn entry_block(ovn: &Ovn, iface_id: &str, mac: Mac) -> Result<LogicalHop, Note> {
    let Some(r) = ovn.port_named(iface_id) else {
        return match ovn.northbound {
            true => Err(Note::OvnPortNotBound {
                iface_id: shown(iface_id),
                bound_on: None,
            }),
            false => Ok(LogicalHop {
                datapath: "?".into(),
                port: shown(iface_id),
            }),
        };
    };
    let port = ovn.port(r);
    let name = shown(&port.name);
    if let (Some(here), Some(there)) = (
        ovn.chassis.as_deref(),
        ovn.binding(&port.name).and_then(|b| b.chassis.as_deref()),
    ) {
        if here != there {
            return Err(Note::OvnPortNotBound {
                iface_id: name,
                bound_on: Some(shown(there)),
            });
        }
    }
    if port.is_disabled() {
        return Err(Note::OvnPortDisabled { port: name });
    }
    if !port.allows_mac(mac) {
        return Err(Note::OvnPortSecurity {
            port: name,
            mac,
            stage: shown(&ovn.port_security_stage()),
        });
    }
    Ok(LogicalHop {
        datapath: shown(&ovn.switches[r.switch].name),
        port: name,
    })
}
