//! The fault matrix: each fault class injected at each hop of a topology it applies to, one at
//! a time into a freshly built topology, with `pathtrace --dhcp` run around a real exchange;
//! each cell says whether the verdict named the right hop and the right cause.
//!
//! The topologies here are the ones the host kernel can build: the Linux half of a compute node
//! ([`LinuxComputeNode`]: VM eth0 -> tapvm -> qbr -> qvb/qvo -> brs -> dnsmasq), and a libvirt
//! network ([`LibvirtNetwork`]) for the server's own configuration. Faults on the request's way
//! (DISCOVER) and on the reply's way (OFFER) are both in it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use anyhow::Result;
use serde_json::Value;

use crate::{
    cmd::{self, in_netns, ip},
    journey_run::Journey,
    topologies::{LibvirtDhcp, LibvirtNetwork, LinuxComputeNode},
    Lab,
};

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

/// Where in the topology, by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Hypervisor,
    Server,
}

/// One cell: a fault, where, and what a right verdict says.
#[derive(Clone, Debug)]
pub struct Cell {
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

/// Every cell of the Linux compute node.
pub fn linux_compute_node() -> Vec<Cell> {
    use Class::*;
    let cell = |class, way, (hop, hop_kind, side), stops, cause| Cell {
        class,
        way,
        hop,
        hop_kind,
        side,
        stops,
        cause,
    };
    let tapvm = ("tapvm", "veth", Side::Hypervisor);
    let qvb = ("qvb", "veth", Side::Hypervisor);
    let qvo = ("qvo", "veth", Side::Server);
    let qbr = ("qbr", "bridge", Side::Hypervisor);
    let brs = ("brs", "bridge", Side::Server);
    let server = ("dnsmasq", "server", Side::Server);
    vec![
        cell(LinkDown, Way::Request, tapvm, &["eth0"], "link_down"),
        cell(LinkDown, Way::Request, qvb, &["tapvm", "qbr"], "link_down"),
        cell(
            LinkDown,
            Way::Request,
            qvo,
            &["tapvm", "qbr", "qvb"],
            "link_down",
        ),
        // The bridge's own TC hook still sees what arrives; the server behind it does not.
        cell(LinkDown, Way::Request, brs, &["qvo", "brs"], "link_down"),
        cell(
            Unbridged,
            Way::Request,
            tapvm,
            &["tapvm"],
            "predicted_block",
        ),
        cell(Unbridged, Way::Request, qvb, &["qbr"], "predicted_block"),
        cell(Unbridged, Way::Request, qvo, &["qvo"], "predicted_block"),
        cell(
            FirewallDrop,
            Way::Request,
            qbr,
            &["tapvm", "qbr"],
            "kernel_drop",
        ),
        cell(FirewallDrop, Way::Request, brs, &["brs"], "kernel_drop"),
        cell(
            FirewallDrop,
            Way::Reply,
            qbr,
            &["qvb", "qbr"],
            "kernel_drop",
        ),
        cell(
            FirewallDrop,
            Way::Reply,
            brs,
            &["brs", "qvo"],
            "kernel_drop",
        ),
        cell(ServerGone, Way::Request, server, &["brs"], "server_gone"),
        // On a libvirt network: the server's configuration keeps it silent.
        cell(
            ServerIgnoresClient,
            Way::Request,
            server,
            &["virbr0"],
            "server_silent/ignores_client",
        ),
        cell(
            ServerWithoutRange,
            Way::Request,
            server,
            &["virbr0"],
            "server_silent/no_range_for_subnet",
        ),
    ]
}

/// One cell per class and way: what `cargo xtask test` runs (the whole matrix is `cargo xtask
/// eval`).
pub fn sample(cells: &[Cell]) -> Vec<Cell> {
    let mut out: Vec<Cell> = Vec::new();
    for c in cells {
        if !out.iter().any(|o| o.class == c.class && o.way == c.way) {
            out.push(c.clone());
        }
    }
    out
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
    let libvirt = match cell.class {
        Class::ServerIgnoresClient => Some(LibvirtDhcp::IgnoresVm),
        Class::ServerWithoutRange => Some(LibvirtDhcp::RangeElsewhere),
        _ => None,
    };
    match libvirt {
        Some(dhcp) => run_on_libvirt_network(cell, dhcp),
        None => run_on_compute_node(cell),
    }
}

fn run_on_libvirt_network(cell: &Cell, dhcp: LibvirtDhcp) -> Result<Outcome> {
    let mut lab = Lab::new("fm");
    let net = LibvirtNetwork::build(&mut lab, dhcp)?;
    let name = format!("fault-{:?}", cell.class).to_lowercase();
    let journey = Journey::start(&mut lab, &name, &["--dhcp", &net.vm_mac, "--timeout", "10"])?;
    let (code, report) = journey.finish_after_dhclient(&mut lab, &net.vm, 6);
    Ok(judge(cell, code, &report))
}

fn run_on_compute_node(cell: &Cell) -> Result<Outcome> {
    let mut lab = Lab::new("fm");
    let topo = LinuxComputeNode::build(&mut lab)?;
    if cell.class != Class::ServerGone {
        inject(cell, &topo)?;
    }
    let name = format!("fault-{:?}-{:?}-{}", cell.class, cell.way, cell.hop).to_lowercase();
    let journey = Journey::start(
        &mut lab,
        &name,
        &["--dhcp", &topo.vm_mac, "--timeout", "10"],
    )?;
    if cell.class == Class::ServerGone {
        for pid in cmd::run("ip", &["netns", "pids", &topo.srv])?.split_whitespace() {
            cmd::run("kill", &[pid])?;
        }
    }
    let (code, report) = journey.finish_after_dhclient(&mut lab, &topo.vm, 6);
    Ok(judge(cell, code, &report))
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

fn inject(cell: &Cell, topo: &LinuxComputeNode) -> Result<()> {
    let ns = match cell.side {
        Side::Hypervisor => topo.hv.as_str(),
        Side::Server => topo.srv.as_str(),
    };
    match cell.class {
        Class::LinkDown => {
            ip(ns, &["link", "set", cell.hop, "down"])?;
        }
        Class::Unbridged => {
            ip(ns, &["link", "set", cell.hop, "nomaster"])?;
        }
        Class::FirewallDrop => {
            // A bridge's forwarding (security groups on qbr), or the server's own input.
            let (family, hook, port) = match (cell.hop_kind, cell.way, cell.side) {
                ("bridge", Way::Request, Side::Hypervisor) => ("bridge", "forward", "dport 67"),
                ("bridge", Way::Reply, Side::Hypervisor) => ("bridge", "forward", "sport 67"),
                (_, Way::Request, _) => ("inet", "input", "dport 67"),
                (_, Way::Reply, _) => ("inet", "output", "sport 67"),
            };
            let rules = format!(
                "add table {family} pt_fault; add chain {family} pt_fault c {{ type filter hook {hook} priority 0; }}; add rule {family} pt_fault c udp {port} drop"
            );
            in_netns(ns, "nft", &[&rules])?;
        }
        Class::ServerGone | Class::ServerIgnoresClient | Class::ServerWithoutRange => {}
    }
    Ok(())
}
