//! Walks over the topology's graph: the shortest one from an origin to the best goal, and
//! everything an origin reaches (for a path that breaks, see `gap`).

use std::collections::{HashMap, VecDeque};

use crate::topology::graph::{Graph, Node};

/// What a breadth-first search from one node reached: each node's parent, in BFS order.
pub struct Reached {
    start: Node,
    parent: HashMap<Node, Node>,
    /// Every node reached, the start first, nearest first.
    pub order: Vec<Node>,
}

impl Reached {
    /// Breadth-first from `start`. VMs and DHCP servers are endpoints: a walk never passes
    /// through them (but may start at one).
    pub fn from(graph: &Graph, start: Node) -> Self {
        let mut parent: HashMap<Node, Node> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut order = vec![start];
        while let Some(n) = queue.pop_front() {
            if n != start && n.is_endpoint() {
                continue;
            }
            for &next in graph.neighbours(n) {
                if next != start && !parent.contains_key(&next) {
                    parent.insert(next, n);
                    order.push(next);
                    queue.push_back(next);
                }
            }
        }
        Self {
            start,
            parent,
            order,
        }
    }

    /// The walk from the start to `goal` (which must have been reached).
    pub fn walk_to(&self, goal: Node) -> Vec<Node> {
        let mut walk = vec![goal];
        let mut cur = goal;
        while cur != self.start {
            let Some(&p) = self.parent.get(&cur) else {
                break;
            };
            walk.push(p);
            cur = p;
        }
        walk.reverse();
        walk
    }
}

/// Breadth-first from `start`; returns the walk to the first node (in BFS order, so among the
/// nearest) for which `rank` gives the best (lowest) value.
pub fn shortest_to(
    graph: &Graph,
    start: Node,
    rank: impl Fn(Node) -> Option<u32>,
) -> Option<Vec<Node>> {
    let reached = Reached::from(graph, start);
    let mut best: Option<(u32, Node)> = None;
    for &n in reached.order.iter().skip(1) {
        if let Some(r) = rank(n) {
            if best.is_none_or(|(b, _)| r < b) {
                best = Some((r, n));
            }
        }
    }
    let (_, goal) = best?;
    Some(reached.walk_to(goal))
}
