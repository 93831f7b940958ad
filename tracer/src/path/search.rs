//! The shortest walk over the topology's graph from an origin to the best goal.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::topology::graph::{Graph, Node};

/// Breadth-first from `start`; returns the walk to the first node (in BFS order, so among the
/// nearest) for which `rank` gives the best (lowest) value. VMs and DHCP servers are endpoints:
/// a walk never passes through them.
pub fn shortest_to(
    graph: &Graph,
    start: Node,
    rank: impl Fn(Node) -> Option<u32>,
) -> Option<Vec<Node>> {
    let mut parent: HashMap<Node, Node> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    let mut seen = HashSet::from([start]);
    let mut best: Option<(u32, Node)> = None;
    while let Some(n) = queue.pop_front() {
        if n != start {
            if let Some(r) = rank(n) {
                if best.is_none_or(|(b, _)| r < b) {
                    best = Some((r, n));
                }
            }
            if n.is_endpoint() {
                continue;
            }
        }
        for &next in graph.neighbours(n) {
            if seen.insert(next) {
                parent.insert(next, n);
                queue.push_back(next);
            }
        }
    }
    let (_, goal) = best?;
    let mut walk = vec![goal];
    let mut cur = goal;
    while let Some(&p) = parent.get(&cur) {
        walk.push(p);
        cur = p;
    }
    walk.reverse();
    Some(walk)
}
