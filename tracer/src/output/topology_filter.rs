//! `--netns NAME`: the part of a topology that lives in one namespace.

use anyhow::{bail, Result};

use crate::topology::{
    graph::{Graph, Node},
    Topology,
};

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

/// The nodes of one namespace, and the graph of the edges that touch its interfaces.
pub fn only_netns(mut topo: Topology, ino: u32) -> (Topology, Graph) {
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
    let inside = |n: Node| matches!(n, Node::Iface(k) if k.netns == ino);
    let graph = Graph::new(&topo).retain(|e| inside(e.from) || inside(e.to));
    (topo, graph)
}
