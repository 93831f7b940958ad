//! What moves along a walk from one node to the next, shared by the node kinds and the walk
//! that calls them.

use std::net::IpAddr;

use super::{openflow_sim::Packet, PathHop};
use crate::topology::graph::Node;

/// Where a node sits on the walk.
#[derive(Clone, Copy)]
pub struct Step {
    pub prev: Option<Node>,
    pub next: Option<Node>,
    /// The walk's first node (the sender's own link when it is not a VM).
    pub first: bool,
    /// A router sent the packet out of this link (then `prev` is `None`).
    pub routed: bool,
}

/// What the walk carries from one hop to the next.
pub struct Carried {
    pub pkt: Packet,
    /// The packet's destination address, when the goal is one (what logical routers route).
    pub dst_ip: Option<IpAddr>,
    /// The MTU of the last non-bridge link, and where it was.
    pub last_mtu: Option<(u32, String)>,
}

/// What a node contributed.
pub enum Visit {
    /// Not a hop of its own (an OVS port folded into its interface, a vanished link).
    Skip,
    Pass,
    /// The topology says the packet cannot pass here.
    Blocked,
    /// Passes, then crosses these hops that no kernel hook sees (an OVN integration bridge's
    /// logical routers and switches); `blocked`: the one of them that drops it.
    Then {
        hops: Vec<PathHop>,
        blocked: Option<usize>,
    },
}
