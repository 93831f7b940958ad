//! `--netns NAME`: the part of a topology that lives in one namespace.

use anyhow::{bail, Result};

use crate::topology::{graph, Topology};

pub fn only_netns(mut topo: Topology, name: &str) -> Result<Topology> {
    let Some(ns) = topo.namespaces.iter().find(|n| n.name == name).cloned() else {
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
    topo.namespaces.retain(|n| n.ino == ns.ino);
    topo.interfaces.retain(|i| i.key.netns == ns.ino);
    topo.dhcp_servers.retain(|d| d.netns == ns.ino);
    let here = |k: Option<crate::topology::IfaceKey>| k.is_some_and(|k| k.netns == ns.ino);
    topo.ovs_bridges
        .retain(|b| b.ports.iter().flat_map(|p| &p.interfaces).any(|i| here(i.netdev)));
    topo.vms
        .retain(|v| v.nics.iter().any(|n| here(n.netdev)));
    let prefix = format!("if:{}:", ns.ino);
    topo.edges = graph::edges(&topo)
        .into_iter()
        .filter(|e| e.from.starts_with(&prefix) || e.to.starts_with(&prefix))
        .collect();
    Ok(topo)
}
