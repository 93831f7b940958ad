//! Whether a DHCP server has an address range where it listens. dnsmasq answers on an
//! interface only from a `dhcp-range` in that interface's subnet (a `static` one will do, as
//! Neutron writes them); without one it logs "no address range available" and stays silent,
//! even for a client with a reserved address.

use std::net::Ipv4Addr;

use super::model::{DhcpServer, Topology};

/// The IPv4 subnets `server` listens on (`10.0.0.0/24`) when no `dhcp-range` falls in any of
/// them; empty when one does, or when it has no IPv4 address to judge by.
pub fn subnets_without_range(server: &DhcpServer, topo: &Topology) -> Vec<String> {
    let subnets: Vec<(Ipv4Addr, u8)> = server
        .listens_on
        .iter()
        .filter_map(|k| topo.interface(*k))
        .flat_map(|i| i.addresses.iter())
        .filter_map(|a| parse_cidr(a))
        .collect();
    let starts: Vec<Ipv4Addr> = server
        .ranges
        .iter()
        .filter_map(|r| range_start(r))
        .collect();
    let covered = subnets
        .iter()
        .any(|&(net, len)| starts.iter().any(|&r| network(net, len) == network(r, len)));
    if covered {
        return Vec::new();
    }
    subnets
        .iter()
        .map(|&(a, len)| format!("{}/{len}", network(a, len)))
        .collect()
}

/// `10.0.0.1/24` as an address and a prefix length; IPv6 and malformed ones are `None`.
fn parse_cidr(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = text.split_once('/')?;
    let len: u8 = len.parse().ok()?;
    (len <= 32).then_some((addr.parse().ok()?, len))
}

/// The first address of a `dhcp-range` value: its first field that is an IPv4 address, after
/// any `tag:`/`set:` prefixes (Neutron's `tag0,10.10.10.0,static,…` included).
fn range_start(range: &str) -> Option<Ipv4Addr> {
    range.split(',').find_map(|f| f.trim().parse().ok())
}

fn network(a: Ipv4Addr, len: u8) -> Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    Ipv4Addr::from(u32::from(a) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_dnsmasq_writes_them() {
        assert_eq!(
            range_start("tag0,10.10.10.0,static,120s"),
            Some([10, 10, 10, 0].into())
        );
        assert_eq!(
            range_start("set:red,192.168.122.2,192.168.122.254,255.255.255.0"),
            Some([192, 168, 122, 2].into())
        );
        assert_eq!(range_start("::1,constructor:eth0"), None);
        assert_eq!(
            parse_cidr("10.78.0.1/24"),
            Some(([10, 78, 0, 1].into(), 24))
        );
        assert_eq!(parse_cidr("fe80::1/64"), None);
        assert_eq!(
            network([10, 78, 0, 1].into(), 24),
            Ipv4Addr::from([10, 78, 0, 0])
        );
        assert_eq!(network([10, 78, 0, 1].into(), 0), Ipv4Addr::UNSPECIFIED);
    }
}
