//! The fault matrix: each fault class injected at each hop of a topology it applies to, one at
//! a time into a freshly built topology, with `pathtrace --dhcp` run around a real exchange;
//! each cell says whether the verdict named the right hop and the right cause.
//!
//! The beds: the Linux half of a compute node and a libvirt network (`linux`: the host kernel
//! builds them), and seed 004's compute node with real Open vSwitch (`seed004`: VM only, for the
//! OpenFlow, VLAN and MTU classes). Faults on the request's way (DISCOVER) and on the reply's
//! way (OFFER) are both in it.

mod linux;
mod seed004;

pub use linux::linux_compute_node;
pub use seed004::seed004;

use std::panic::{catch_unwind, AssertUnwindSafe};

use anyhow::Result;
use serde_json::Value;

/// What is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    LinkDown,
    Unbridged,
    FirewallDrop,
    ServerGone,
    /// A running server whose host entry tells it to ignore the client (libvirt network).
    ServerIgnoresClient,
    /// A running server with no `dhcp-range` in the subnet it listens on (libvirt network).
    ServerWithoutRange,
    /// A server that was not running when pathtrace started.
    ServerNotRunning,
    /// An OpenFlow rule that drops the packet.
    OpenflowDrop,
    /// The VLAN translation (`mod_vlan_vid`) missing on a bridge.
    VlanMismatch,
    /// A link whose MTU is below the packet's size.
    Mtu,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Self::LinkDown => "link down",
            Self::Unbridged => "port out of its bridge",
            Self::FirewallDrop => "nftables drop",
            Self::ServerGone => "server gone",
            Self::ServerIgnoresClient => "server ignores client",
            Self::ServerWithoutRange => "server without range",
            Self::ServerNotRunning => "server not running",
            Self::OpenflowDrop => "OpenFlow drop",
            Self::VlanMismatch => "VLAN mismatch",
            Self::Mtu => "MTU",
        }
    }
}

/// Which way the packet that meets the fault goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// The client's request (DISCOVER).
    Request,
    /// The server's reply (OFFER).
    Reply,
}

/// Where in the topology, by role: the hypervisor's side (on seed 004, the host's own
/// namespace) or the server's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Hypervisor,
    Server,
}

/// The topology a cell is built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bed {
    LinuxComputeNode,
    LibvirtNetwork,
    /// Seed 004 with Open vSwitch: VM only.
    Seed004,
}

/// One cell: a fault, where, and what a right verdict says.
#[derive(Clone, Debug)]
pub struct Cell {
    pub bed: Bed,
    pub class: Class,
    pub way: Way,
    /// The hop the fault is on, and its kind (`veth`, `bridge`, `server`).
    pub hop: &'static str,
    pub hop_kind: &'static str,
    pub side: Side,
    /// Acceptable `stopped_at` interfaces: where the packet was last seen before the fault.
    pub stops: &'static [&'static str],
    /// The cause `kind` a right verdict has (`kind/refusal` for a server's refusal).
    pub cause: &'static str,
}

/// How a cell came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Right hop and right cause.
    Right,
    /// Right hop, another cause (named).
    WrongCause(String),
    /// Another hop (named, with the cause).
    WrongHop(String),
    /// pathtrace exited 2, or the run failed.
    Error(String),
}

impl Outcome {
    pub fn column(&self) -> &'static str {
        match self {
            Self::Right => "right hop and cause",
            Self::WrongCause(_) => "right hop, wrong cause",
            Self::WrongHop(_) => "wrong hop",
            Self::Error(_) => "error",
        }
    }
}

/// One cell per class and way: what `cargo xtask test` runs (the whole matrix is `cargo xtask
/// eval`), of the cells given (one bed's).
pub fn sample(cells: &[Cell]) -> Vec<Cell> {
    let mut out: Vec<Cell> = Vec::new();
    for c in cells {
        if !out.iter().any(|o| o.class == c.class && o.way == c.way) {
            out.push(c.clone());
        }
    }
    out
}

/// Runs `cells`; what is not right, one line each.
pub fn misses(cells: &[Cell]) -> Vec<String> {
    cells
        .iter()
        .filter_map(|c| {
            let o = run(c);
            (o != Outcome::Right)
                .then(|| format!("{} {:?} at {}: {o:?}", c.class.name(), c.way, c.hop))
        })
        .collect()
}

/// Builds the topology, injects the fault, runs the journey and judges its verdict. A panic
/// in the run (a leftover, a replay that differs) is an error cell, not the end of the matrix.
pub fn run(cell: &Cell) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| run_unguarded(cell))) {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => Outcome::Error(format!("{e:#}")),
        Err(panic) => Outcome::Error(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        ),
    }
}

fn run_unguarded(cell: &Cell) -> Result<Outcome> {
    match cell.bed {
        Bed::LinuxComputeNode => linux::run_on_compute_node(cell),
        Bed::LibvirtNetwork => linux::run_on_libvirt_network(cell),
        Bed::Seed004 => seed004::run(cell),
    }
}

fn judge(cell: &Cell, code: i32, r: &Value) -> Outcome {
    if code != 1 {
        return Outcome::Error(format!(
            "exit {code}, verdict {}: {}",
            r["verdict"],
            r["reason"].as_str().unwrap_or_default()
        ));
    }
    let at = r["stopped_at"]["ifname"].as_str().unwrap_or_default();
    let mut kind = r["cause"]["kind"].as_str().unwrap_or_default().to_string();
    if let Some(refusal) = r["cause"]["refusal"]["kind"].as_str() {
        kind = format!("{kind}/{refusal}");
    }
    let said = format!("{at}: {kind}: {}", r["reason"].as_str().unwrap_or_default());
    if !cell.stops.contains(&at) {
        Outcome::WrongHop(said)
    } else if kind != cell.cause {
        Outcome::WrongCause(said)
    } else {
        Outcome::Right
    }
}
