//! `pathtrace topology --format json`: the discovered facts and the graph's edges between them.

use serde::Serialize;

use super::node_id;
use crate::topology::{
    graph::{EdgeKind, Graph},
    Topology,
};

#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    topology: &'a Topology,
    edges: Vec<Edge>,
}

#[derive(Serialize)]
struct Edge {
    from: String,
    to: String,
    kind: EdgeKind,
}

/// `graph` is the topology's graph, or a part of it (one namespace).
pub fn render(topo: &Topology, graph: &Graph) -> String {
    let edges = graph
        .edges()
        .iter()
        .map(|e| Edge {
            from: node_id::of(topo, e.from),
            to: node_id::of(topo, e.to),
            kind: e.kind,
        })
        .collect();
    let doc = Document {
        topology: topo,
        edges,
    };
    serde_json::to_string_pretty(&doc).expect("the topology serializes infallibly") + "\n"
}
