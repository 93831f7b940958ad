//! The IP layer of a namespace as discovery read it: its main routing table and its neighbour
//! (ARP/NDP) cache, and the two questions the path asks of them: which route the kernel picks
//! for an address, and which MAC an address was last seen at. Pure: the netlink dumps that fill
//! these live in `sources::links`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::mac::Mac;

/// A unicast route of the main table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The destination prefix; `0.0.0.0/0` or `::/0` for a default route.
    pub dst: IpAddr,
    pub prefix_len: u8,
    /// The output link's ifindex, in the route's namespace.
    pub oif: Option<u32>,
    /// The next hop; `None` for a directly connected prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Lower wins among routes of the same prefix length.
    #[serde(default)]
    pub metric: u32,
}

/// A resolved neighbour cache entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Neighbour {
    pub ip: IpAddr,
    pub mac: Mac,
    /// The link it was learned on, in the entry's namespace.
    pub ifindex: u32,
}

impl Route {
    pub fn contains(&self, ip: IpAddr) -> bool {
        prefix_contains(self.dst, self.prefix_len, ip)
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix_len == 0 {
            f.write_str("default")?;
        } else {
            write!(f, "{}/{}", self.dst, self.prefix_len)?;
        }
        if let Some(gw) = self.gateway {
            write!(f, " via {gw}")?;
        }
        Ok(())
    }
}

/// The route the kernel's main table picks for `ip`: the longest prefix that holds it, then
/// the lowest metric.
pub fn lookup(routes: &[Route], ip: IpAddr) -> Option<&Route> {
    routes.iter().filter(|r| r.contains(ip)).max_by(|a, b| {
        a.prefix_len
            .cmp(&b.prefix_len)
            .then(b.metric.cmp(&a.metric))
    })
}

/// Whether `ip` is inside `net/len` (same family only).
pub fn prefix_contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let len = u32::from(len.min(32));
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let len = u32::from(len.min(128));
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// An interface address as discovery records it (`10.0.0.1/24`), split; `None` if malformed.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    Some((ip.parse().ok()?, len.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dst: &str, len: u8, oif: u32, gw: Option<&str>) -> Route {
        Route {
            dst: dst.parse().unwrap(),
            prefix_len: len,
            oif: Some(oif),
            gateway: gw.map(|g| g.parse().unwrap()),
            metric: 0,
        }
    }

    #[test]
    fn the_longest_prefix_wins_then_the_lowest_metric() {
        let mut routes = vec![
            route("0.0.0.0", 0, 1, Some("192.0.2.1")),
            route("10.0.0.0", 8, 2, None),
            route("10.1.0.0", 16, 3, None),
        ];
        let ip = |s: &str| s.parse().unwrap();
        assert_eq!(lookup(&routes, ip("10.1.2.3")).unwrap().oif, Some(3));
        assert_eq!(lookup(&routes, ip("10.2.2.3")).unwrap().oif, Some(2));
        assert_eq!(lookup(&routes, ip("8.8.8.8")).unwrap().oif, Some(1));
        assert!(lookup(&routes, ip("2001:db8::1")).is_none());
        let mut cheaper = route("10.1.0.0", 16, 4, None);
        routes[2].metric = 100;
        cheaper.metric = 10;
        routes.push(cheaper);
        assert_eq!(lookup(&routes, ip("10.1.2.3")).unwrap().oif, Some(4));
    }

    #[test]
    fn prefixes_of_both_families() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(prefix_contains(ip("2001:db8::"), 32, ip("2001:db8:1::5")));
        assert!(!prefix_contains(
            ip("2001:db8::"),
            33,
            ip("2001:db8:8000::5")
        ));
        assert!(prefix_contains(ip("10.0.0.0"), 0, ip("1.2.3.4")));
        assert!(prefix_contains(ip("10.0.0.1"), 32, ip("10.0.0.1")));
        assert!(!prefix_contains(ip("10.0.0.1"), 32, ip("10.0.0.2")));
        assert_eq!(parse_cidr("10.0.0.1/24"), Some((ip("10.0.0.1"), 24)));
        assert_eq!(parse_cidr("junk"), None);
    }
}
