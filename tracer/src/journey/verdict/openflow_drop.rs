//! Check 1: an OpenFlow flow that drops, on a bridge at or past the furthest hop, whose packet
//! counter grew during the trace, and that could match this packet (on an OVN integration
//! bridge, one compiled from a logical drop flow first).

use super::{cause::Cause, Evidence};
use crate::{
    event::Sighting,
    journey::correlate::OrientedHop,
    path::{
        openflow_sim::{self, Packet},
        HopKind,
    },
    topology::{Action, Flow, Topology},
};

/// The oriented index of the bridge whose flow dropped the packet, and the cause.
pub fn find(
    first: &Sighting,
    path: &[OrientedHop<'_>],
    furthest: usize,
    ev: &Evidence<'_>,
) -> Option<(usize, Cause)> {
    path.iter()
        .enumerate()
        .skip(furthest)
        .filter(|(_, p)| p.hop.kind == HopKind::OvsBridge)
        .find_map(|(i, p)| {
            // The packet as it enters this bridge: through the port of the hop before it.
            let entry = path[..i].iter().rev().find_map(|h| h.hop.ovs_port.as_ref());
            let in_port = entry
                .filter(|o| o.bridge == p.hop.name)
                .and_then(|o| o.ofport)
                .map(|n| n.to_string());
            let pkt = Packet {
                src: first.hop.src_mac,
                dst: Some(first.hop.dst_mac),
                vlan: path[i.saturating_sub(1)].hop.vlan,
                dhcp: first.hop.dhcp.is_some(),
                dhcp_reply: first.hop.dhcp_message().is_some_and(|m| m.is_reply()),
                // What was seen of it rules out flows for ARP and IPv6.
                ipv4: first.hop.ip.as_ref().is_some_and(|ip| ip.version == 4),
            };
            let flow = grown_drop_flow(ev, &p.hop.name, in_port.as_deref(), &pkt)?;
            Some((
                i,
                Cause::OpenflowDrop {
                    bridge: p.hop.name.clone(),
                    table: flow.table,
                    priority: flow.priority,
                    flow: flow.text.trim().to_string(),
                },
            ))
        })
}

/// A flow of `bridge` whose actions drop and whose packet count grew between the two
/// discoveries. Flows that cannot match the packet (another in_port, another VLAN or protocol)
/// are not evidence, whatever their counters did: other traffic crosses the bridge too.
fn grown_drop_flow<'a>(
    ev: &Evidence<'a>,
    bridge: &str,
    in_port: Option<&str>,
    pkt: &Packet,
) -> Option<&'a Flow> {
    let flows = |t: &'a Topology| {
        t.ovs_bridges
            .iter()
            .find(|b| b.name == bridge)
            .map(|b| b.flows.as_slice())
            .unwrap_or_default()
    };
    let before = flows(ev.before);
    let mut grown = flows(ev.after).iter().filter(|f| {
        let drops = f.actions.iter().all(|a| *a == Action::Drop);
        let was = before
            .iter()
            .find(|b| same_flow(b, f))
            .and_then(|b| b.n_packets)
            .unwrap_or(0);
        let could_match = match in_port {
            Some(port) => openflow_sim::matches(f, port, pkt) != Some(false),
            None => {
                !f.matches.iter().any(|(k, _)| k == "in_port")
                    && openflow_sim::matches(f, "", pkt) != Some(false)
            }
        };
        drops && could_match && f.n_packets.unwrap_or(0) > was
    });
    // On an OVN integration bridge, several drop flows may have grown and be undecidable for
    // the simulation (OVN matches registers and metadata): one compiled from a logical drop
    // flow of this host's datapaths is the evidence.
    let ovn = ev
        .after
        .ovn
        .as_ref()
        .filter(|o| o.integration_bridge == bridge);
    match ovn {
        Some(o) => {
            let all: Vec<&Flow> = grown.collect();
            all.iter()
                .find(|f| o.drop_flow(&f.cookie).is_some())
                .or(all.first())
                .copied()
        }
        None => grown.next(),
    }
}

fn same_flow(a: &Flow, b: &Flow) -> bool {
    a.table == b.table && a.priority == b.priority && a.matches == b.matches
}
