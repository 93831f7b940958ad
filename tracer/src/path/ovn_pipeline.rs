//! The integration bridge of an OVN chassis: its OpenFlow tables are OVN's logical pipelines
//! compiled by ovn-controller, so the path reads the logical network instead of simulating
//! them. A packet from a VM's port enters the logical switch of the port its `iface-id` names;
//! OVN drops it there when no logical port has that name, when another chassis binds it, when
//! the port is disabled, or when its `port_security` does not list the packet's MAC (stage
//! `ls_in_apply_port_sec`, `ls_in_port_sec_l2` before OVN 22.06). A packet from a provider
//! bridge enters through the localnet port mapped to it. When it leaves by a port of another
//! logical switch, the logical routers between them follow as hops of their own
//! ([`super::ovn_router`]).

use serde::Serialize;

use super::{
    walk::{Carried, Step, Visit},
    HopKind, Note, PathHop,
};
use crate::{
    mac::Mac,
    topology::{
        graph::Node,
        ovn::{Ovn, PortRef},
        ovn_routing::Remote,
        sources::untrusted::shown,
        Topology,
    },
};

/// The logical side of a hop: the logical switch or router (`datapath`) and the logical port
/// the packet enters it by.
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
    hop.notes.push(Note::OvnPipeline);
    let entry = match step.prev.and_then(|n| entry(topo, ovn, b, n, carried)) {
        None => return Visit::Pass,
        Some(Err(note)) => {
            hop.notes.push(note);
            return Visit::Blocked;
        }
        Some(Ok(e)) => e,
    };
    hop.notes.push(Note::OvnLogicalPort {
        switch: shown(&ovn.switches[entry.switch].name),
        port: shown(&ovn.port(entry).name),
    });
    hop.logical = Some(LogicalHop {
        datapath: shown(&ovn.switches[entry.switch].name),
        port: shown(&ovn.port(entry).name),
    });
    // On the way to ovn-controller's native DHCP: without options no flow hands the request
    // to it (it is switched like any broadcast).
    if matches!(step.next, Some(Node::Dhcp(_))) {
        if let Some(gap) = ovn.dhcp_gap(entry) {
            hop.notes.push(Note::OvnNoDhcpOptions {
                port: shown(&ovn.port(entry).name),
                gap,
            });
            return Visit::Blocked;
        }
    }
    if step.next.is_none() {
        if let Some(ip) = carried.dst_ip {
            return logical_end(ovn, entry, ip, hop);
        }
    }
    let exit = match step.next {
        Some(Node::OvsPort(pb, pin)) if pb == b && tunnel_remote_ip(topo, b, pin).is_some() => {
            match remote_exit(topo, ovn, b, pin, carried) {
                Ok((exit, note)) => {
                    hop.notes.extend(note);
                    exit
                }
                Err(note) => {
                    hop.notes.push(note);
                    return Visit::Blocked;
                }
            }
        }
        Some(n) => exit(topo, ovn, b, n, carried),
        None => None,
    };
    let Some(exit) = exit else {
        return Visit::Pass;
    };
    if exit.switch == entry.switch {
        return Visit::Pass;
    }
    match super::ovn_router::hops(
        ovn,
        entry.switch,
        exit.switch,
        &ovn.port(exit).name,
        carried.dst_ip,
    ) {
        Some((hops, blocked)) => Visit::Then { hops, blocked },
        None => Visit::Pass,
    }
}

/// The logical port a packet arriving on the bridge from `prev` enters by, or the note that
/// says why OVN drops it there: a VIF's `iface-id`, or the localnet port of the provider
/// bridge a patch port leads to.
fn entry(
    topo: &Topology,
    ovn: &Ovn,
    b: usize,
    prev: Node,
    carried: &Carried,
) -> Option<Result<PortRef, Note>> {
    let Node::OvsPort(pb, pin) = prev else {
        return None;
    };
    if pb != b {
        return None;
    }
    if let Some(iface_id) = iface_id(topo, b, pin) {
        return entry_block(ovn, iface_id, carried.pkt.src);
    }
    localnet_behind(topo, ovn, b, pin, carried).map(Ok)
}

/// The logical port a packet leaving the bridge towards `next` leaves by.
fn exit(topo: &Topology, ovn: &Ovn, b: usize, next: Node, carried: &Carried) -> Option<PortRef> {
    let Node::OvsPort(pb, pin) = next else {
        return None;
    };
    if pb != b {
        return None;
    }
    match iface_id(topo, b, pin) {
        Some(id) => ovn.port_named(id),
        None => localnet_behind(topo, ovn, b, pin, carried),
    }
}

/// The walk ends on the integration bridge (no uplink reached): where the logical network
/// sends a packet for `ip`. To a logical port another chassis binds, with no tunnel there; or
/// out of a localnet port (of the switch, or of one a router routes `ip` into) whose physical
/// network this chassis maps to no bridge: OVN drops it either way.
fn logical_end(ovn: &Ovn, entry: PortRef, ip: std::net::IpAddr, hop: &mut PathHop) -> Visit {
    if let Some(dst) = ovn.port_with_ip(ip) {
        let port = shown(&ovn.port(dst).name);
        return match ovn.remote(dst) {
            Some(Remote::Unbound) => {
                hop.notes.push(Note::OvnDestinationUnbound { port });
                Visit::Blocked
            }
            Some(Remote::On { chassis, encap_ips }) => {
                hop.notes.push(Note::OvnNoTunnel {
                    port,
                    chassis: shown(&chassis),
                    endpoints: encap_ips.iter().map(|e| shown(e)).collect(),
                });
                Visit::Blocked
            }
            None => Visit::Pass,
        };
    }
    let Some(localnet) = ovn.localnet_towards(entry.switch, ip) else {
        return Visit::Pass;
    };
    let port = ovn.port(localnet);
    let network = port
        .options
        .get("network_name")
        .cloned()
        .unwrap_or_default();
    if ovn.bridge_mappings.contains_key(&network) {
        return Visit::Pass;
    }
    let note = Note::OvnLocalnetUnmapped {
        port: shown(&port.name),
        network: shown(&network),
    };
    if localnet.switch == entry.switch {
        hop.notes.push(note);
        return Visit::Blocked;
    }
    match super::ovn_router::hops(ovn, entry.switch, localnet.switch, &port.name, Some(ip)) {
        Some((mut hops, blocked)) => {
            let last = hops.len() - 1;
            hops[last].notes.push(note);
            Visit::Then {
                hops,
                blocked: blocked.or(Some(last)),
            }
        }
        None => Visit::Pass,
    }
}

/// A packet leaving by tunnel port `port`: the logical port its destination address is (when a
/// logical port has it) and the note that says which chassis binds it, or the note that says
/// why OVN drops it: the port is bound on no chassis, or this tunnel does not lead to the
/// chassis that binds it.
fn remote_exit(
    topo: &Topology,
    ovn: &Ovn,
    b: usize,
    port: usize,
    carried: &Carried,
) -> Result<(Option<PortRef>, Option<Note>), Note> {
    let Some(dst) = carried.dst_ip.and_then(|ip| ovn.port_with_ip(ip)) else {
        return Ok((None, None));
    };
    let name = shown(&ovn.port(dst).name);
    match ovn.remote(dst) {
        None => Ok((None, None)),
        Some(Remote::Unbound) => Err(Note::OvnDestinationUnbound { port: name }),
        Some(Remote::On { chassis, encap_ips }) => {
            let tunnel_ip = tunnel_remote_ip(topo, b, port).unwrap_or_default();
            let chassis = shown(&chassis);
            if encap_ips.iter().any(|ip| ip == tunnel_ip) {
                let note = Note::OvnBoundElsewhere {
                    port: name,
                    chassis,
                    remote_ip: shown(tunnel_ip),
                    tunnel: shown(&topo.ovs_bridges[b].ports[port].name),
                };
                Ok((Some(dst), Some(note)))
            } else {
                Err(Note::OvnNoTunnel {
                    port: name,
                    chassis,
                    endpoints: encap_ips.iter().map(|ip| shown(ip)).collect(),
                })
            }
        }
    }
}

/// The `remote_ip` of tunnel port `port` of bridge `b`, if it is one.
fn tunnel_remote_ip(topo: &Topology, b: usize, port: usize) -> Option<&str> {
    topo.ovs_bridges[b].ports[port]
        .interfaces
        .iter()
        .find_map(|i| i.tunnel_remote_ip())
}

fn iface_id(topo: &Topology, b: usize, port: usize) -> Option<&str> {
    topo.ovs_bridges[b].ports[port]
        .interfaces
        .iter()
        .find_map(|i| i.external_ids.get("iface-id"))
        .map(String::as_str)
}

/// The localnet port of the provider bridge that patch port `port` leads to (ovn-controller
/// patches br-int to each bridge of `ovn-bridge-mappings`).
fn localnet_behind(
    topo: &Topology,
    ovn: &Ovn,
    b: usize,
    port: usize,
    carried: &Carried,
) -> Option<PortRef> {
    let peer = topo.ovs_bridges[b].ports[port]
        .interfaces
        .iter()
        .find_map(|i| i.patch_peer())?;
    let provider = topo.ovs_bridges.iter().find(|other| {
        other
            .ports
            .iter()
            .flat_map(|p| &p.interfaces)
            .any(|i| i.name == peer)
    })?;
    ovn.localnet_on(&provider.name, carried.pkt.vlan)
}

/// Where a packet from the VIF `iface_id` with source `mac` enters the logical network, or the
/// note that says why OVN drops it there; `None`: the Northbound database was not read, and
/// what it would say is not guessed.
fn entry_block(ovn: &Ovn, iface_id: &str, mac: Mac) -> Option<Result<PortRef, Note>> {
    let Some(r) = ovn.port_named(iface_id) else {
        return ovn.northbound.then(|| {
            Err(Note::OvnPortNotBound {
                iface_id: shown(iface_id),
                bound_on: None,
            })
        });
    };
    Some(vif_checks(ovn, r, mac))
}

/// What OVN checks of a packet a VIF sends: its binding here, `enabled`, `port_security`.
fn vif_checks(ovn: &Ovn, r: PortRef, mac: Mac) -> Result<PortRef, Note> {
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
    Ok(r)
}
