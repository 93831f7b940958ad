//! The logical routers (and the switches they lead into) between the logical switch a packet
//! enters on an OVN integration bridge and the one it leaves by: one hop each, seen by no
//! kernel hook, with what stops the packet there: a disabled router, a disabled router port on
//! the way, or no route to the destination out of the port that leads on.

use std::net::IpAddr;

use super::{HopKind, LogicalHop, Note, PathHop};
use crate::topology::{ovn::Ovn, ovn_routing::Crossing, sources::untrusted::shown};

/// The hops from switch `from` to the port `exit` leaves by (a port of switch `to`), and the
/// first of them that drops the packet; `None` when no logical router joins the two switches.
pub fn hops(
    ovn: &Ovn,
    from: usize,
    to: usize,
    exit_port: &str,
    dst: Option<IpAddr>,
) -> Option<(Vec<PathHop>, Option<usize>)> {
    let chain = ovn.crossings(from, to)?;
    let mut hops = Vec::new();
    let mut blocked = None;
    for (n, c) in chain.iter().enumerate() {
        let (router_hop, drops) = router_hop(ovn, c, dst);
        if drops {
            blocked.get_or_insert(hops.len());
        }
        hops.push(router_hop);
        let last = n + 1 == chain.len();
        hops.push(switch_hop(ovn, c, last.then_some(exit_port)));
    }
    Some((hops, blocked))
}

/// A hop of the logical network, run by the flows of the integration bridge.
fn logical_hop(ovn: &Ovn, kind: HopKind, name: String, port: String) -> PathHop {
    let mut hop = PathHop::new(None);
    hop.kind = kind;
    hop.kernel_visible = false;
    hop.bridge = Some(ovn.integration_bridge.clone());
    hop.logical = Some(LogicalHop {
        datapath: name.clone(),
        port,
    });
    hop.name = name;
    hop
}

/// The router of crossing `c`, and whether it drops the packet.
fn router_hop(ovn: &Ovn, c: &Crossing, dst: Option<IpAddr>) -> (PathHop, bool) {
    let r = &ovn.routers[c.router];
    let router = shown(&r.name);
    let ingress = &r.ports[c.ingress];
    let egress = &r.ports[c.egress];
    let mut hop = logical_hop(
        ovn,
        HopKind::LogicalRouter,
        router.clone(),
        shown(&ingress.name),
    );
    let port_disabled = [ingress, egress]
        .into_iter()
        .find(|p| p.enabled == Some(false));
    let note = if r.enabled == Some(false) {
        Some(Note::OvnRouterDisabled {
            router: router.clone(),
        })
    } else if let Some(p) = port_disabled {
        Some(Note::OvnRouterPortDisabled {
            router: router.clone(),
            port: shown(&p.name),
        })
    } else {
        dst.and_then(|ip| match r.route(ip) {
            Some(route) if route.port == c.egress => {
                hop.notes.push(Note::OvnRouted {
                    router: router.clone(),
                    route: shown(&route.to_string()),
                    port: shown(&egress.name),
                });
                None
            }
            other => Some(Note::OvnNoRoute {
                router: router.clone(),
                dst: ip,
                toward: shown(&egress.name),
                instead: other.map(|o| shown(&r.ports[o.port].name)),
            }),
        })
    };
    let blocked = note.is_some();
    hop.notes.extend(note);
    (hop, blocked)
}

/// The switch crossing `c` leads into; `exit`: the port the packet leaves it by, on the last.
fn switch_hop(ovn: &Ovn, c: &Crossing, exit: Option<&str>) -> PathHop {
    let s = &ovn.switches[c.switch];
    let entry = shown(&s.ports[c.switch_port].name);
    let mut hop = logical_hop(ovn, HopKind::LogicalSwitch, shown(&s.name), entry.clone());
    hop.notes.push(Note::OvnLogicalPort {
        switch: shown(&s.name),
        port: entry,
    });
    if let Some(exit) = exit {
        hop.notes.push(Note::OvnLeavesBy { port: shown(exit) });
    }
    hop
}
