//! The IP layer of one namespace over its rtnetlink socket: the main table's unicast routes
//! and the resolved neighbour entries (see `topology::routing`), bounded per namespace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::Result;
use netlink_packet_route::{
    neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState},
    route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType},
    AddressFamily, RouteNetlinkMessage,
};

use crate::{
    mac::Mac,
    netlink::Rtnetlink,
    topology::routing::{Neighbour, Route},
};

/// Routes or neighbours kept per namespace: a tenant can fill its own namespace's tables, and
/// the path needs the few that lead somewhere on this host, not a full Internet table.
const MAX_ROUTES_PER_NAMESPACE: usize = 4096;
const MAX_NEIGHBOURS_PER_NAMESPACE: usize = 4096;

/// The unicast routes of the main table, both families.
pub fn routes(socket: &mut Rtnetlink) -> Result<Vec<Route>> {
    let mut out = Vec::new();
    for msg in socket.dump(RouteNetlinkMessage::GetRoute(RouteMessage::default()))? {
        let RouteNetlinkMessage::NewRoute(m) = msg else {
            continue;
        };
        let table = m
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Table(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(u32::from(m.header.table));
        if table != u32::from(RouteHeader::RT_TABLE_MAIN) || m.header.kind != RouteType::Unicast {
            continue;
        }
        let unspecified = match m.header.address_family {
            AddressFamily::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            AddressFamily::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            _ => continue,
        };
        let mut route = Route {
            dst: unspecified,
            prefix_len: m.header.destination_prefix_length,
            oif: None,
            gateway: None,
            metric: 0,
        };
        for a in &m.attributes {
            match a {
                RouteAttribute::Destination(d) => route.dst = route_ip(d).unwrap_or(route.dst),
                RouteAttribute::Gateway(g) => route.gateway = route_ip(g),
                RouteAttribute::Oif(i) => route.oif = Some(*i),
                RouteAttribute::Priority(p) => route.metric = *p,
                _ => {}
            }
        }
        if out.len() == MAX_ROUTES_PER_NAMESPACE {
            tracing::debug!("more than {MAX_ROUTES_PER_NAMESPACE} routes: the rest ignored");
            break;
        }
        out.push(route);
    }
    Ok(out)
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// Neighbour entries that hold a MAC (not failed, not still resolving).
pub fn neighbours(socket: &mut Rtnetlink) -> Result<Vec<Neighbour>> {
    let mut out = Vec::new();
    for msg in socket.dump(RouteNetlinkMessage::GetNeighbour(
        NeighbourMessage::default(),
    ))? {
        let RouteNetlinkMessage::NewNeighbour(m) = msg else {
            continue;
        };
        if matches!(
            m.header.state,
            NeighbourState::Failed | NeighbourState::Incomplete | NeighbourState::None
        ) {
            continue;
        }
        let mut ip = None;
        let mut mac = None;
        for a in &m.attributes {
            match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                    ip = Some(IpAddr::V4(*v4))
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                    ip = Some(IpAddr::V6(*v6))
                }
                NeighbourAttribute::LinkLayerAddress(l) if l.len() == 6 => {
                    let mut b = [0; 6];
                    b.copy_from_slice(l);
                    mac = Some(Mac(b));
                }
                _ => {}
            }
        }
        let (Some(ip), Some(mac)) = (ip, mac) else {
            continue;
        };
        if out.len() == MAX_NEIGHBOURS_PER_NAMESPACE {
            tracing::debug!(
                "more than {MAX_NEIGHBOURS_PER_NAMESPACE} neighbours: the rest ignored"
            );
            break;
        }
        out.push(Neighbour {
            ip,
            mac,
            ifindex: m.header.ifindex,
        });
    }
    Ok(out)
}
