//! Which interfaces to attach to: `--interface` specs (`IFNAME`, `NETNS:IFNAME`, `NETNS:*`)
//! resolved in their namespaces.

use anyhow::Result;

use super::{tc, Interface};
use crate::netns::NetnsTable;

/// An `--interface` value split into its namespace and name parts.
#[derive(Debug, PartialEq, Eq)]
pub struct InterfaceSpec {
    pub netns: Option<String>,
    /// `None` means every interface of the namespace.
    pub name: Option<String>,
}

impl InterfaceSpec {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (netns, name) = match spec.rsplit_once(':') {
            Some((ns, name)) if !ns.is_empty() => (Some(ns.to_string()), name),
            Some(_) => return Err(format!("invalid interface '{spec}': empty namespace")),
            None => (None, spec),
        };
        if name.is_empty() {
            return Err(format!("invalid interface '{spec}': empty interface name"));
        }
        if name.len() >= libc::IF_NAMESIZE {
            return Err(format!(
                "invalid interface '{spec}': name longer than 15 characters"
            ));
        }
        let name = (name != "*").then(|| name.to_string());
        Ok(Self { netns, name })
    }
}

/// The interfaces that `--interface` style specs name, each once.
pub fn resolve_interfaces(specs: &[String], table: &mut NetnsTable) -> Result<Vec<Interface>> {
    let mut out: Vec<Interface> = Vec::new();
    for raw in specs {
        let spec = InterfaceSpec::parse(raw).map_err(anyhow::Error::msg)?;
        let netns = match &spec.netns {
            Some(ns) => table.resolve(ns)?,
            None => table.own(),
        };
        let found = match &spec.name {
            Some(name) => vec![tc::lookup(&netns, name)?],
            None => tc::all_in(&netns)?,
        };
        for iface in found {
            push_unique(&mut out, iface);
        }
    }
    anyhow::ensure!(!out.is_empty(), "no interface to attach to");
    Ok(out)
}

/// Adds `iface` unless the same (namespace, ifindex) is already there.
pub fn push_unique(out: &mut Vec<Interface>, iface: Interface) {
    if !out
        .iter()
        .any(|i| i.netns.ino == iface.netns.ino && i.ifindex == iface.ifindex)
    {
        out.push(iface);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_specs() {
        assert_eq!(
            InterfaceSpec::parse("eth0").unwrap(),
            InterfaceSpec {
                netns: None,
                name: Some("eth0".into())
            }
        );
        assert_eq!(
            InterfaceSpec::parse("qdhcp-1:tap1").unwrap(),
            InterfaceSpec {
                netns: Some("qdhcp-1".into()),
                name: Some("tap1".into())
            }
        );
        assert_eq!(
            InterfaceSpec::parse("/proc/1/ns/net:*").unwrap(),
            InterfaceSpec {
                netns: Some("/proc/1/ns/net".into()),
                name: None
            }
        );
        for bad in ["", "ns:", ":eth0", "averyveryverylongname"] {
            assert!(InterfaceSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
