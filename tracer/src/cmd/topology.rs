//! `pathtrace topology`: discover the host's virtual network and print it.

use anyhow::Result;

use super::stdout;
use crate::{
    cli::{TopologyArgs, TopologyFormat},
    kernel::privileges,
    output,
    topology::{self, graph::Graph, Topology},
};

pub fn run(args: &TopologyArgs) -> Result<u8> {
    privileges::require_discovery_privileges()?;
    let topo = topology::discover(&args.discovery.options())?;
    let only = match &args.netns {
        Some(ns) => Some(output::topology_filter::netns_ino(&topo, ns)?),
        None => None,
    };
    let text = match (args.format, only) {
        // The tree names peers in other namespaces, so it needs the whole topology.
        (TopologyFormat::Tree, _) => output::topology_tree::render(&topo, only),
        (format, Some(ino)) => {
            let (part, graph) = output::topology_filter::only_netns(topo, ino);
            render_graph(&part, &graph, format)
        }
        (format, None) => render_graph(&topo, &Graph::new(&topo), format),
    };
    stdout::write(&text)?;
    Ok(0)
}

fn render_graph(topo: &Topology, graph: &Graph, format: TopologyFormat) -> String {
    match format {
        TopologyFormat::Json => output::topology_json::render(topo, graph),
        _ => output::topology_dot::render(topo, graph),
    }
}
