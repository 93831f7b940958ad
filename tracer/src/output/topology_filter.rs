//! `--netns NAME`: the part of a topology that lives in one namespace.

use anyhow::{bail, Result};

use crate::topology::{graph, Topology};

/// The inode of the namespace called `name`, or an error listing the named ones.
pub fn netns_ino(topo: &Topology, name: &str) -> Result<u32> {
    let Some(ns) = topo.namespaces.iter().find(|n| n.name == name) else {
        let named: Vec<_> = topo
            .namespaces
            .iter()
            .filter(|n| !n.name.starts_with("pid:"))
            .map(|n| n.name.as_str())
            .collect();
        bail!(
            "unknown network namespace '{name}' (named: {})",
            named.join(", ")
        );
    };
    Ok(ns.ino)
}

/// The nodes of one namespace and the edges that touch them.
pub fn only_netns(mut topo: Topology, ino: u32) -> Topology {
    topo.namespaces.retain(|n| n.ino == ino);
    topo.interfaces.retain(|i| i.key.netns == ino);
    topo.dhcp_servers.retain(|d| d.netns == ino);
    let here = |k: Option<crate::topology::IfaceKey>| k.is_some_and(|k| k.netns == ino);
    topo.ovs_bridges.retain(|b| {
        b.ports
            .iter()
            .flat_map(|p| &p.interfaces)
            .any(|i| here(i.netdev))
    });
    topo.vms.retain(|v| v.nics.iter().any(|n| here(n.netdev)));
    let prefix = format!("if:{}:", ino);
    topo.edges = graph::edges(&topo)
        .into_iter()
        .filter(|e| e.from.starts_with(&prefix) || e.to.starts_with(&prefix))
        .collect();
    topo
}
