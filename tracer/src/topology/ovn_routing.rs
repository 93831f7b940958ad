//! How OVN's logical network joins its datapaths: which logical router a switch's router-type
//! port leads to, which switch a router port leads to, the localnet port a provider bridge
//! stands for, and the route a logical router picks for an address (longest prefix; a
//! directly connected network wins a tie with a static route, as northd's priorities make
//! it). Pure lookups over [`Ovn`].

use std::net::IpAddr;

use super::{
    ovn::{LogicalRouter, Ovn, PortRef, PortType},
    routing::{parse_cidr, prefix_contains},
};

/// The logical switch port option that names the router port a `router` port is patched to.
const ROUTER_PORT_OPTION: &str = "router-port";
/// The localnet port option that names its physical network (`ovn-bridge-mappings` key).
const NETWORK_NAME_OPTION: &str = "network_name";

/// Where a logical router port is: indexes into `routers` and its `ports`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouterPortRef {
    pub router: usize,
    pub port: usize,
}

/// Why a logical router sends a packet out of a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// The port's own network.
    Connected,
    /// A static route, with its next hop.
    Static { nexthop: String },
}

/// The route a logical router picks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalRoute {
    /// Index into the router's `ports`.
    pub port: usize,
    /// `IP/PLEN` as configured.
    pub prefix: String,
    pub kind: RouteKind,
}

impl std::fmt::Display for LogicalRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            RouteKind::Connected => write!(f, "{} (connected)", self.prefix),
            RouteKind::Static { nexthop } => write!(f, "{} via {nexthop} (static)", self.prefix),
        }
    }
}

/// A logical router crossed between two switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crossing {
    pub router: usize,
    /// Router port indexes: where the packet enters and leaves the router.
    pub ingress: usize,
    pub egress: usize,
    /// The switch it leaves into, and the router-type port of that switch it enters by.
    pub switch: usize,
    pub switch_port: usize,
}

/// How many logical routers a path may cross (OVN-Kubernetes crosses two: the node's gateway
/// router and the cluster router).
const MAX_CROSSINGS: usize = 4;

impl Ovn {
    pub fn router_port_named(&self, name: &str) -> Option<RouterPortRef> {
        self.routers.iter().enumerate().find_map(|(ri, r)| {
            r.ports
                .iter()
                .position(|p| p.name == name)
                .map(|pi| RouterPortRef {
                    router: ri,
                    port: pi,
                })
        })
    }

    /// The switch's router-type port patched to router port `lrp`.
    fn switch_port_of(&self, lrp: &str) -> Option<PortRef> {
        self.switches.iter().enumerate().find_map(|(si, s)| {
            s.ports
                .iter()
                .position(|p| {
                    p.kind == PortType::Router
                        && p.options.get(ROUTER_PORT_OPTION).map(String::as_str) == Some(lrp)
                })
                .map(|pi| PortRef {
                    switch: si,
                    port: pi,
                })
        })
    }

    /// The localnet port whose physical network this chassis maps to OVS bridge `bridge`, for
    /// frames in `vlan` there (a localnet port's `tag`; untagged for none).
    pub fn localnet_on(&self, bridge: &str, vlan: Option<u16>) -> Option<PortRef> {
        let physnets: Vec<&String> = self
            .bridge_mappings
            .iter()
            .filter(|(_, b)| *b == bridge)
            .map(|(n, _)| n)
            .collect();
        self.switches.iter().enumerate().find_map(|(si, s)| {
            s.ports
                .iter()
                .position(|p| {
                    p.kind == PortType::Localnet
                        && p.tag == vlan
                        && p.options
                            .get(NETWORK_NAME_OPTION)
                            .is_some_and(|n| physnets.contains(&n))
                })
                .map(|pi| PortRef {
                    switch: si,
                    port: pi,
                })
        })
    }

    /// The localnet port a packet for `ip` leaves switch `from`'s logical network by: one of
    /// that switch's own, else one of a switch a router on it routes `ip` into.
    pub fn localnet_towards(&self, from: usize, ip: IpAddr) -> Option<PortRef> {
        let localnet_of = |switch: usize| {
            self.switches[switch]
                .ports
                .iter()
                .position(|p| p.kind == PortType::Localnet)
                .map(|port| PortRef { switch, port })
        };
        localnet_of(from).or_else(|| {
            self.routers_of(from)
                .into_iter()
                .filter(|c| {
                    self.routers[c.router]
                        .route(ip)
                        .is_some_and(|r| r.port == c.egress)
                })
                .find_map(|c| localnet_of(c.switch))
        })
    }

    /// The logical routers a packet crosses from switch `from` to switch `to`, fewest first;
    /// `None` when no chain of routers joins them.
    pub fn crossings(&self, from: usize, to: usize) -> Option<Vec<Crossing>> {
        let mut frontier: Vec<(usize, Vec<Crossing>)> = vec![(from, Vec::new())];
        let mut visited = vec![from];
        for _ in 0..MAX_CROSSINGS {
            let mut next = Vec::new();
            for (switch, so_far) in frontier {
                for c in self.routers_of(switch) {
                    if visited.contains(&c.switch) {
                        continue;
                    }
                    visited.push(c.switch);
                    let mut chain = so_far.clone();
                    chain.push(c);
                    if c.switch == to {
                        return Some(chain);
                    }
                    next.push((c.switch, chain));
                }
            }
            frontier = next;
        }
        None
    }

    /// Every way out of switch `switch` through a logical router into another switch.
    fn routers_of(&self, switch: usize) -> Vec<Crossing> {
        let mut out = Vec::new();
        for p in &self.switches[switch].ports {
            let Some(lrp) = (p.kind == PortType::Router)
                .then(|| p.options.get(ROUTER_PORT_OPTION))
                .flatten()
            else {
                continue;
            };
            let Some(ingress) = self.router_port_named(lrp) else {
                continue;
            };
            let router = &self.routers[ingress.router];
            for (egress, q) in router.ports.iter().enumerate() {
                if egress == ingress.port {
                    continue;
                }
                if let Some(sp) = self.switch_port_of(&q.name) {
                    out.push(Crossing {
                        router: ingress.router,
                        ingress: ingress.port,
                        egress,
                        switch: sp.switch,
                        switch_port: sp.port,
                    });
                }
            }
        }
        out
    }
}

/// Where OVN sends a packet for a logical port bound on another chassis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remote {
    /// The port is bound on no chassis: OVN drops what is sent to it.
    Unbound,
    /// Bound on `chassis`, reached through a tunnel to one of `encap_ips` (none: the chassis
    /// has no tunnel endpoint).
    On {
        chassis: String,
        encap_ips: Vec<String>,
    },
}

impl Ovn {
    /// The VIF logical port that has IPv4 address `ip`.
    pub fn port_with_ip(&self, ip: IpAddr) -> Option<PortRef> {
        let IpAddr::V4(v4) = ip else { return None };
        self.switches.iter().enumerate().find_map(|(si, s)| {
            s.ports
                .iter()
                .position(|p| {
                    p.kind == PortType::Vif
                        && p.macs_and_ips().iter().any(|(_, ips)| ips.contains(&v4))
                })
                .map(|pi| PortRef {
                    switch: si,
                    port: pi,
                })
        })
    }

    /// Where logical port `r` is bound, when not on this chassis; `None`: bound here (or the
    /// Southbound database was not read).
    pub fn remote(&self, r: PortRef) -> Option<Remote> {
        if !self.southbound {
            return None;
        }
        let name = &self.port(r).name;
        let Some(chassis) = self.binding(name).and_then(|b| b.chassis.as_deref()) else {
            return Some(Remote::Unbound);
        };
        if self.chassis.as_deref() == Some(chassis) {
            return None;
        }
        let encap_ips = self
            .chassis_list
            .iter()
            .filter(|c| c.name == chassis)
            .flat_map(|c| &c.encaps)
            .filter_map(|e| e.split_once(':').map(|(_, ip)| ip.to_string()))
            .collect();
        Some(Remote::On {
            chassis: chassis.to_string(),
            encap_ips,
        })
    }

    /// The tunnel endpoints of the chassis that binds the VIF port with address `ip`, when
    /// another chassis binds it: where a packet to `ip` leaves this host.
    pub fn remote_endpoints(&self, ip: IpAddr) -> Vec<String> {
        match self.port_with_ip(ip).and_then(|r| self.remote(r)) {
            Some(Remote::On { encap_ips, .. }) => encap_ips,
            _ => Vec::new(),
        }
    }
}

impl LogicalRouter {
    /// The route this router picks for `dst`: the longest prefix among its ports' networks and
    /// its static routes; a connected network wins a tie.
    pub fn route(&self, dst: IpAddr) -> Option<LogicalRoute> {
        let connected = self.ports.iter().enumerate().flat_map(|(pi, p)| {
            p.networks.iter().filter_map(move |n| {
                let (net, len) = parse_cidr(n)?;
                prefix_contains(net, len, dst).then(|| {
                    (
                        u16::from(len) * 2 + 1,
                        LogicalRoute {
                            port: pi,
                            prefix: n.clone(),
                            kind: RouteKind::Connected,
                        },
                    )
                })
            })
        });
        let statics = self.static_routes.iter().filter_map(|r| {
            let (net, len) = prefix_of(&r.ip_prefix)?;
            if !prefix_contains(net, len, dst) {
                return None;
            }
            let port = match &r.output_port {
                Some(name) => self.ports.iter().position(|p| &p.name == name)?,
                None => self.port_on_link(r.nexthop.parse().ok()?)?,
            };
            Some((
                u16::from(len) * 2,
                LogicalRoute {
                    port,
                    prefix: r.ip_prefix.clone(),
                    kind: RouteKind::Static {
                        nexthop: r.nexthop.clone(),
                    },
                },
            ))
        });
        connected
            .chain(statics)
            .max_by_key(|(priority, _)| *priority)
            .map(|(_, r)| r)
    }

    /// The port whose network holds `ip` (where a static route's next hop is reached).
    fn port_on_link(&self, ip: IpAddr) -> Option<usize> {
        self.ports.iter().position(|p| {
            p.networks
                .iter()
                .filter_map(|n| parse_cidr(n))
                .any(|(net, len)| prefix_contains(net, len, ip))
        })
    }
}

/// A static route's prefix: `IP/PLEN`, or a bare address (a host route).
fn prefix_of(s: &str) -> Option<(IpAddr, u8)> {
    parse_cidr(s).or_else(|| {
        let ip: IpAddr = s.parse().ok()?;
        Some((ip, if ip.is_ipv4() { 32 } else { 128 }))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::topology::ovn::{LogicalRouterPort, LogicalSwitch, LogicalSwitchPort, StaticRoute};

    fn lsp(name: &str, kind: PortType, options: &[(&str, &str)]) -> LogicalSwitchPort {
        LogicalSwitchPort {
            name: name.into(),
            kind,
            addresses: Vec::new(),
            dynamic_addresses: None,
            port_security: Vec::new(),
            dhcpv4: None,
            tag: None,
            enabled: None,
            up: None,
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn lrp(name: &str, network: &str) -> LogicalRouterPort {
        LogicalRouterPort {
            name: name.into(),
            mac: "0a:00:00:00:00:01".into(),
            networks: vec![network.into()],
            enabled: None,
            peer: None,
        }
    }

    fn switch(name: &str, ports: Vec<LogicalSwitchPort>) -> LogicalSwitch {
        LogicalSwitch {
            name: name.into(),
            uuid: String::new(),
            ports,
            acls: Vec::new(),
            copp: Vec::new(),
        }
    }

    /// Seed 002: the provider network (localnet `octavia`) and the tenant network, joined by
    /// octavia-link-router.
    fn seed002() -> Ovn {
        Ovn {
            bridge_mappings: BTreeMap::from([("octavia".into(), "br-octavia".into())]),
            switches: vec![
                switch(
                    "octavia-provider-net",
                    vec![
                        lsp(
                            "provnet",
                            PortType::Localnet,
                            &[(NETWORK_NAME_OPTION, "octavia")],
                        ),
                        lsp(
                            "to-router",
                            PortType::Router,
                            &[(ROUTER_PORT_OPTION, "lrp-p")],
                        ),
                    ],
                ),
                switch(
                    "lb-mgmt-net",
                    vec![
                        lsp("amphora", PortType::Vif, &[]),
                        lsp(
                            "to-router",
                            PortType::Router,
                            &[(ROUTER_PORT_OPTION, "lrp-t")],
                        ),
                    ],
                ),
                switch("elsewhere", vec![lsp("vm", PortType::Vif, &[])]),
            ],
            routers: vec![LogicalRouter {
                name: "octavia-link-router".into(),
                uuid: String::new(),
                enabled: None,
                ports: vec![
                    lrp("lrp-p", "172.23.0.150/24"),
                    lrp("lrp-t", "172.24.1.89/16"),
                ],
                static_routes: vec![StaticRoute {
                    ip_prefix: "10.9.0.0/16".into(),
                    nexthop: "172.24.1.1".into(),
                    output_port: None,
                }],
                nat: Vec::new(),
            }],
            ..Ovn::default()
        }
    }

    #[test]
    fn a_router_joins_the_provider_and_the_tenant_network() {
        let ovn = seed002();
        assert_eq!(
            ovn.localnet_on("br-octavia", None),
            Some(PortRef { switch: 0, port: 0 })
        );
        assert_eq!(ovn.localnet_on("br-octavia", Some(24)), None);
        assert_eq!(ovn.localnet_on("br-ex", None), None);
        let chain = ovn.crossings(0, 1).unwrap();
        assert_eq!(
            chain,
            [Crossing {
                router: 0,
                ingress: 0,
                egress: 1,
                switch: 1,
                switch_port: 1
            }]
        );
        assert_eq!(ovn.crossings(0, 2), None);
        // Out of the tenant network: by the provider's localnet, where the router routes it.
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let provnet = Some(PortRef { switch: 0, port: 0 });
        assert_eq!(ovn.localnet_towards(1, ip("172.23.0.99")), provnet);
        assert_eq!(ovn.localnet_towards(1, ip("192.0.2.1")), None);
        assert_eq!(ovn.localnet_towards(0, ip("192.0.2.1")), provnet);
    }

    #[test]
    fn a_port_bound_elsewhere_is_reached_through_its_chassis_endpoints() {
        use crate::topology::ovn::{Chassis, PortBinding};
        let mut ovn = seed002();
        ovn.southbound = true;
        ovn.chassis = Some("here".into());
        ovn.switches[1].ports[0].addresses = vec!["0a:00:00:00:24:05 172.24.0.5".into()];
        let amphora = PortRef { switch: 1, port: 0 };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(ovn.port_with_ip(ip("172.24.0.5")), Some(amphora));
        assert_eq!(ovn.port_with_ip(ip("172.24.0.6")), None);
        assert_eq!(ovn.remote(amphora), Some(Remote::Unbound));
        let bind = |ovn: &mut Ovn, chassis: &str| {
            ovn.bindings = vec![PortBinding {
                logical_port: "amphora".into(),
                chassis: Some(chassis.into()),
                up: Some(true),
            }]
        };
        bind(&mut ovn, "here");
        assert_eq!(ovn.remote(amphora), None);
        bind(&mut ovn, "far");
        ovn.chassis_list = vec![Chassis {
            name: "far".into(),
            hostname: "compute-2".into(),
            encaps: vec!["geneve:192.0.2.2".into()],
        }];
        assert_eq!(ovn.remote_endpoints(ip("172.24.0.5")), ["192.0.2.2"]);
        ovn.southbound = false;
        assert_eq!(ovn.remote(amphora), None, "not read: not guessed");
    }

    #[test]
    fn routes_are_the_longest_prefix_and_connected_wins_a_tie() {
        let mut r = seed002().routers.remove(0);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let to_tenant = r.route(ip("172.24.0.5")).unwrap();
        assert_eq!((to_tenant.port, to_tenant.kind), (1, RouteKind::Connected));
        let via = r.route(ip("10.9.3.4")).unwrap();
        assert_eq!(via.port, 1);
        assert_eq!(via.to_string(), "10.9.0.0/16 via 172.24.1.1 (static)");
        assert_eq!(r.route(ip("192.0.2.1")), None);
        r.static_routes.push(StaticRoute {
            ip_prefix: "172.24.0.0/16".into(),
            nexthop: "172.23.0.1".into(),
            output_port: None,
        });
        assert_eq!(
            r.route(ip("172.24.0.5")).unwrap().kind,
            RouteKind::Connected
        );
        r.static_routes.push(StaticRoute {
            ip_prefix: "172.24.0.5".into(),
            nexthop: "172.23.0.1".into(),
            output_port: Some("lrp-p".into()),
        });
        assert_eq!(r.route(ip("172.24.0.5")).unwrap().port, 0);
    }
}
