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

use crate::{journey_run::Journey, Lab};

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

/// How the run of pathtrace around a cell's exchange ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// At its `--timeout`, after the client gave up.
    Timeout,
    /// By SIGINT a few seconds after the client gave up, as a person stops it.
    Interrupted,
}

impl Ending {
    /// The `--timeout` to give pathtrace: `secs` when it is how the run ends.
    fn timeout(self, secs: u32) -> String {
        match self {
            Self::Timeout => secs.to_string(),
            // Never reached: the signal ends the run.
            Self::Interrupted => "300".into(),
        }
    }

    /// What the kept results of a run ending this way add to their name.
    fn suffix(self) -> &'static str {
        match self {
            Self::Timeout => "",
            Self::Interrupted => "-sigint",
        }
    }

    /// Runs dhclient on `netns` for `client_secs` around `journey` and ends it this way: its exit
    /// status and report.
    fn finish(
        self,
        journey: Journey,
        lab: &mut Lab,
        netns: &str,
        client_secs: u32,
    ) -> (i32, Value) {
        match self {
            Self::Timeout => journey.finish_after_dhclient(lab, netns, client_secs),
            Self::Interrupted => {
                let (code, report, took) = journey.stop_after_failed_dhclient(
                    lab,
                    (netns, client_secs),
                    SIGNAL_AFTER_FAILURE,
                    &[libc::SIGINT],
                );
                eprintln!("    report {} ms after SIGINT", took.as_millis());
                (code, report)
            }
        }
    }
}

/// How long after the client gave up an interrupted cell is stopped.
const SIGNAL_AFTER_FAILURE: std::time::Duration = std::time::Duration::from_secs(2);

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

/// Runs `cells`, each once per ending; what is not right, one line each, and a cell whose
/// endings gave different verdicts.
pub fn misses(cells: &[Cell], endings: &[Ending]) -> Vec<String> {
    let mut out = Vec::new();
    for c in cells {
        let runs = run(c, endings);
        for (ending, (o, _)) in endings.iter().zip(&runs) {
            if *o != Outcome::Right {
                out.push(format!(
                    "{} {:?} at {} ({ending:?}): {o:?}",
                    c.class.name(),
                    c.way,
                    c.hop
                ));
            }
        }
        if runs.windows(2).any(|w| w[0].1 != w[1].1) {
            let said: Vec<_> = endings.iter().zip(runs.iter().map(|r| &r.1)).collect();
            out.push(format!(
                "{} {:?} at {}: the endings differ: {said:?}",
                c.class.name(),
                c.way,
                c.hop
            ));
        }
    }
    out
}

/// Builds the topology, injects the fault, runs the journey once per ending (on one bed where
/// the fault stays), and judges each verdict; also returns where each stopped and the cause's
/// kind ("HOP: KIND"). A panic in the run (a leftover, a replay that differs) is an error cell,
/// not the end of the matrix.
pub fn run(cell: &Cell, endings: &[Ending]) -> Vec<(Outcome, String)> {
    let error = |e: String| vec![(Outcome::Error(e), String::new()); endings.len()];
    match catch_unwind(AssertUnwindSafe(|| run_unguarded(cell, endings))) {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => error(format!("{e:#}")),
        Err(panic) => error(
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

fn run_unguarded(cell: &Cell, endings: &[Ending]) -> Result<Vec<(Outcome, String)>> {
    let reports = match cell.bed {
        Bed::LinuxComputeNode => linux::run_on_compute_node(cell, endings),
        Bed::LibvirtNetwork => linux::run_on_libvirt_network(cell, endings),
        Bed::Seed004 => seed004::run(cell, endings),
    }?;
    Ok(reports
        .iter()
        .map(|(code, report)| {
            let stop = format!(
                "{}: {}",
                report["stopped_at"]["ifname"].as_str().unwrap_or_default(),
                cause_kind(report)
            );
            (judge(cell, *code, report), stop)
        })
        .collect())
}

/// The cause's `kind` (`kind/refusal` for a server's refusal).
fn cause_kind(r: &Value) -> String {
    let kind = r["cause"]["kind"].as_str().unwrap_or_default();
    match r["cause"]["refusal"]["kind"].as_str() {
        Some(refusal) => format!("{kind}/{refusal}"),
        None => kind.to_string(),
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
    let kind = cause_kind(r);
    let said = format!("{at}: {kind}: {}", r["reason"].as_str().unwrap_or_default());
    if !cell.stops.contains(&at) {
        Outcome::WrongHop(said)
    } else if kind != cell.cause {
        Outcome::WrongCause(said)
    } else {
        Outcome::Right
    }
}
