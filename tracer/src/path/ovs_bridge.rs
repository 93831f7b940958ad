//! An Open vSwitch bridge on the path: its OpenFlow tables run on the expected packet (see
//! [`super::openflow_sim`]), then NORMAL's access/trunk VLAN rules for the ports the path
//! enters and leaves by. Patch ports have no netdev: they are hops the kernel never sees.

use super::{
    openflow_sim::{self, Decision, Packet},
    walk::{Carried, Step, Visit},
    HopKind, Note, OvsPortInfo, PathHop, VlanRewrite,
};
use crate::topology::{graph::Node, model::OvsPort, Action, Flow, Topology};

pub fn port_info(topo: &Topology, b: usize, p: usize) -> OvsPortInfo {
    let port = &topo.ovs_bridges[b].ports[p];
    OvsPortInfo {
        bridge: topo.ovs_bridges[b].name.clone(),
        port: port.name.clone(),
        ofport: port.interfaces.first().and_then(|i| i.ofport),
        tag: port.tag,
        trunks: port.trunks.clone(),
    }
}

/// A port on the walk: a hop of its own only for a patch or a tunnel port; a port with a
/// netdev is folded into that interface's hop.
pub fn visit_port(topo: &Topology, b: usize, p: usize, hop: &mut PathHop) -> Visit {
    let interfaces = &topo.ovs_bridges[b].ports[p].interfaces;
    if let Some(tunnel) = interfaces.iter().find(|i| i.is_tunnel()) {
        hop.kind = HopKind::OvsTunnel;
        hop.name = tunnel.name.clone();
        hop.bridge = Some(topo.ovs_bridges[b].name.clone());
        hop.ovs_port = Some(port_info(topo, b, p));
        hop.kernel_visible = false;
        hop.notes.push(Note::TunnelPort {
            kind: tunnel.kind.clone(),
            remote_ip: tunnel.tunnel_remote_ip().map(str::to_string),
        });
        return Visit::Pass;
    }
    let Some(iface) = interfaces.iter().find(|i| i.is_patch()) else {
        return Visit::Skip;
    };
    hop.kind = HopKind::OvsPatch;
    hop.name = iface.name.clone();
    hop.bridge = Some(topo.ovs_bridges[b].name.clone());
    hop.ovs_port = Some(port_info(topo, b, p));
    hop.kernel_visible = false;
    hop.notes.push(Note::PatchPort {
        peer: iface.patch_peer().unwrap_or("?").to_string(),
    });
    Visit::Pass
}

pub fn visit_bridge(
    topo: &Topology,
    b: usize,
    step: Step,
    carried: &mut Carried,
    hop: &mut PathHop,
) -> Visit {
    hop.kind = HopKind::OvsBridge;
    hop.name = topo.ovs_bridges[b].name.clone();
    hop.kernel_visible = false;
    let (Some(Node::OvsPort(_, pin)), Some(Node::OvsPort(_, pout))) = (step.prev, step.next) else {
        hop.notes.push(Note::BridgeEndpoint);
        return Visit::Pass;
    };
    let flows = &topo.ovs_bridges[b].flows;
    if run(topo, b, (pin, pout), flows, &mut carried.pkt, hop) {
        Visit::Blocked
    } else {
        Visit::Pass
    }
}

fn ofport(p: &OvsPort) -> String {
    p.interfaces
        .first()
        .and_then(|i| i.ofport)
        .map(|o| o.to_string())
        .unwrap_or_default()
}

/// Runs one bridge: `flows` on the packet as received, then what the flows decided. Returns
/// true if the packet cannot pass.
fn run(
    topo: &Topology,
    b: usize,
    ports: (usize, usize),
    flows: &[Flow],
    pkt: &mut Packet,
    hop: &mut PathHop,
) -> bool {
    let bridge = &topo.ovs_bridges[b];
    let as_received = pkt.clone();
    let (in_port, out_port) = (&bridge.ports[ports.0], &bridge.ports[ports.1]);
    let wire_in = pkt.vlan;
    let outcome = if flows.is_empty() {
        hop.notes.push(Note::FlowsNotRead);
        openflow_sim::Outcome {
            decisions: vec![Decision::Normal],
            vlan: pkt.vlan,
            ..Default::default()
        }
    } else {
        openflow_sim::run(flows, &ofport(in_port), pkt)
    };
    hop.flows = outcome.applied.iter().map(|f| f.text.clone()).collect();
    hop.notes
        .extend(outcome.notes.iter().cloned().map(Note::Simulation));
    if outcome.vlan != wire_in {
        hop.vlan_rewrite = Some(VlanRewrite {
            from: wire_in,
            to: outcome.vlan,
            flow: outcome
                .applied
                .last()
                .map(|f| f.text.clone())
                .unwrap_or_default(),
        });
    }
    pkt.vlan = outcome.vlan;
    match outcome.decisions.first().cloned().unwrap_or(Decision::Drop) {
        Decision::Drop => {
            dropped(&outcome, hop);
            hop.vlan = pkt.vlan;
            // The hops after it show the packet as the bridge would pass it without its drop
            // flows, so that "expected next" carries the VLAN the packet should have had.
            if !outcome.table_miss {
                let others: Vec<Flow> = flows
                    .iter()
                    .filter(|f| !f.actions.iter().all(|a| *a == Action::Drop))
                    .cloned()
                    .collect();
                let mut intended = as_received;
                let mut scratch = hop.clone();
                run(topo, b, ports, &others, &mut intended, &mut scratch);
                pkt.vlan = intended.vlan;
            }
            true
        }
        Decision::Controller => {
            hop.notes.push(Note::ToController);
            hop.vlan = pkt.vlan;
            false
        }
        Decision::Output(p) => {
            hop.vlan = pkt.vlan;
            let elsewhere = p != ofport(out_port);
            if elsewhere {
                hop.notes.push(Note::OutputElsewhere {
                    to: p,
                    port: out_port.name.clone(),
                    ofport: ofport(out_port),
                });
            }
            elsewhere
        }
        Decision::Normal => normal(in_port, out_port, pkt, hop),
    }
}

fn dropped(outcome: &openflow_sim::Outcome, hop: &mut PathHop) {
    hop.notes.push(match outcome.applied.last() {
        Some(f) if !outcome.table_miss => Note::DroppedByFlow {
            flow: f.text.clone(),
        },
        _ => Note::TableMiss,
    });
}

/// NORMAL: an access port puts untagged packets in its VLAN; a trunk carries the packet's own.
/// Returns true if the packet cannot pass from `in_port` to `out_port`.
fn normal(in_port: &OvsPort, out_port: &OvsPort, pkt: &mut Packet, hop: &mut PathHop) -> bool {
    let inside = match in_port.tag {
        Some(t) if pkt.vlan.is_none() => Some(t),
        Some(tag) => {
            hop.notes.push(Note::TaggedOnAccessPort {
                vlan: pkt.vlan,
                port: in_port.name.clone(),
                tag,
            });
            hop.vlan = pkt.vlan;
            return true;
        }
        None => pkt.vlan,
    };
    hop.vlan = inside;
    let trunks = |p: &OvsPort| p.trunks.is_empty() || inside.is_some_and(|v| p.trunks.contains(&v));
    if !trunks(in_port) {
        hop.notes.push(Note::NotTrunked {
            port: in_port.name.clone(),
            vlan: inside,
        });
        return true;
    }
    match out_port.tag {
        Some(t) if inside == Some(t) => pkt.vlan = None,
        Some(tag) => {
            hop.notes.push(Note::OtherAccessVlan {
                vlan: inside,
                port: out_port.name.clone(),
                tag,
            });
            return true;
        }
        None if !trunks(out_port) => {
            hop.notes.push(Note::NotTrunked {
                port: out_port.name.clone(),
                vlan: inside,
            });
            return true;
        }
        None => pkt.vlan = inside,
    }
    false
}
