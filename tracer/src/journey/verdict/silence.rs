//! When every packet arrived and the exchange still did not finish: the side that should have
//! answered is silent. For the server's side the topology after the trace says whether the
//! server is gone, never ran, or ran and did not answer.

use super::{
    cause::{Cause, OvnCause, Refusal},
    Expected, Place, StopHook, Verdict,
};
use crate::{
    event::{DhcpMessage, Direction, HookKind},
    mac::Mac,
    path::{DhcpExpectation, ExpectedPath, HopKind, PathHop},
    topology::{dhcp_range, model::ServerKind, ovn_client, DhcpServer, OperState, Topology},
};

/// Who should have answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
}

pub fn verdict(
    path: &ExpectedPath,
    after: &Topology,
    side: Side,
    after_msg: DhcpMessage,
) -> Verdict {
    // A server may listen on a bridge's own interface (dnsmasq on a Linux bridge).
    let visible = |h: &&PathHop| {
        matches!(h.kind, HopKind::Interface | HopKind::LinuxBridge) && h.kernel_visible
    };
    let (at, next) = match side {
        Side::Server => (
            path.hops.iter().rev().find(visible),
            path.hops
                .iter()
                .rev()
                .find(|h| h.kind == HopKind::DhcpServer),
        ),
        Side::Client => (path.hops.iter().find(visible), path.hops.first()),
    };
    let cause = match side {
        Side::Server => server_cause(path, after, at, after_msg),
        Side::Client => Cause::ClientSilent { after: after_msg },
    };
    Verdict::stopped(
        at.map(|h| Place {
            ifname: h.name.clone(),
            netns: h.netns.clone(),
            hook: StopHook::Seen(HookKind::Ingress),
            direction: Some(Direction::Ingress),
            kind: h.kind,
        }),
        cause,
        next.map(|h| Expected {
            name: h.name.clone(),
            netns: h.netns.clone(),
            kind: h.kind,
            direction: None,
            vlan: None,
        }),
    )
}

fn server_cause(
    path: &ExpectedPath,
    after: &Topology,
    at: Option<&PathHop>,
    after_msg: DhcpMessage,
) -> Cause {
    let server = path.dhcp_server.as_ref();
    if let Some(s) = server.filter(|s| s.kind == ServerKind::OvnController) {
        return ovn_controller_cause(path, s, after, after_msg);
    }
    let running = server.and_then(|s| {
        after
            .dhcp_servers
            .iter()
            .find(|d| d.pid.is_some() && (d.pid == s.pid || d.netns_name == s.netns))
    });
    let reached = at.map_or("the server side".into(), |h| h.name.clone());
    match (server, running) {
        (Some(s), None) => match s.pid {
            Some(pid) => Cause::ServerGone {
                after: after_msg,
                reached,
                netns: s.netns.clone(),
                pid,
            },
            None => Cause::ServerNotRunning {
                after: after_msg,
                reached,
                netns: s.netns.clone(),
            },
        },
        (_, Some(d)) => interface_down(d, after).unwrap_or_else(|| Cause::ServerSilent {
            after: after_msg,
            server: d.label(),
            netns: d.netns_name.clone(),
            refusal: refusal(d, after, path.mac),
        }),
        (None, None) => Cause::NoServer { after: after_msg },
    }
}

/// ovn-controller should have answered: gone, never running, disconnected, or running with
/// nothing to answer this port with.
fn ovn_controller_cause(
    path: &ExpectedPath,
    s: &DhcpExpectation,
    after: &Topology,
    after_msg: DhcpMessage,
) -> Cause {
    let bridge = path
        .hops
        .iter()
        .rfind(|h| h.kind == HopKind::OvsBridge)
        .map_or_else(|| "the integration bridge".into(), |h| h.name.clone());
    let now = after.ovn.as_ref().map(|o| &o.controller);
    match now.and_then(|c| c.pid.map(|pid| (pid, c.connected))) {
        None => Cause::Ovn(OvnCause::ControllerDown {
            after: after_msg,
            port: s.logical_port.clone(),
            pid: s.pid,
            bridge,
        }),
        Some((pid, Some(false))) => Cause::Ovn(OvnCause::ControllerDisconnected {
            after: after_msg,
            pid,
        }),
        Some((pid, _)) => Cause::ServerSilent {
            after: after_msg,
            server: format!("ovn-controller pid {pid}"),
            netns: s.netns.clone(),
            refusal: ovn_refusal(after, path.mac),
        },
    }
}

/// What in OVN's configuration keeps ovn-controller from answering `mac`.
fn ovn_refusal(topo: &Topology, mac: Mac) -> Option<Refusal> {
    let client = ovn_client::client_port(topo, mac)?;
    client.dhcp_gap.map(|gap| Refusal::OvnNoDhcpOptions {
        port: client.name,
        gap,
    })
}

/// A link the server listens on that is down: it received nothing there, or cannot answer.
fn interface_down(server: &DhcpServer, topo: &Topology) -> Option<Cause> {
    server
        .listens_on
        .iter()
        .filter_map(|k| topo.interface(*k))
        .find(|i| !i.admin_up || i.oper_state == OperState::Down)
        .map(|i| Cause::LinkDown {
            ifname: i.name.clone(),
            oper_state: i.oper_state,
            admin_up: i.admin_up,
            down_peer: None,
        })
}

/// What in `server`'s configuration keeps it from answering `mac`, as dnsmasq decides.
fn refusal(server: &DhcpServer, topo: &Topology, mac: Mac) -> Option<Refusal> {
    if let Some(h) = server
        .hosts
        .iter()
        .find(|h| h.ignore && h.macs.contains(&mac))
    {
        return Some(Refusal::IgnoresClient {
            origin: h.origin.clone(),
        });
    }
    let subnets = dhcp_range::subnets_without_range(server, topo);
    (!subnets.is_empty()).then_some(Refusal::NoRangeForSubnet { subnets })
}

/// What kept an exchange from finishing when no packet stopped, from the messages seen.
pub fn who_is_silent(offer_seen: bool, request_seen: bool) -> (Side, DhcpMessage) {
    if !offer_seen {
        (Side::Server, DhcpMessage::Discover)
    } else if !request_seen {
        (Side::Client, DhcpMessage::Offer)
    } else {
        (Side::Server, DhcpMessage::Request)
    }
}
