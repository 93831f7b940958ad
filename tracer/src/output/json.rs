//! JSON Lines: one object per hop, then one summary object.

use serde::Serialize;

use crate::event::{HookStatus, Hop, Timings, Vanished};

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record<'a> {
    Hop(&'a Hop),
    /// A traced interface went away; the trace goes on on the others.
    Vanished(&'a Vanished),
    Summary {
        events: u64,
        /// Every event not delivered, whatever the reason (`missed_runs` included).
        lost_events: u64,
        /// Runs of our probes the kernel skipped (another BPF program on that CPU); null where
        /// the kernel does not count them.
        missed_runs: Option<u64>,
        interfaces: Vec<String>,
        /// Traced interfaces that went away during the trace.
        vanished: Vec<Vanished>,
        /// Every hook, attached or not (and why not).
        hooks: Vec<HookStatus>,
        /// Time to attach every hook, and to detach them all at the end.
        attach_ms: f64,
        detach_ms: f64,
        /// Where the start-up time went, phase by phase.
        timings: Timings,
    },
}

pub fn line(record: &Record) -> String {
    serde_json::to_string(record).expect("records serialize infallibly")
}

/// Serializes one record into `out`, without a line of its own in between.
pub fn write(out: impl std::io::Write, record: &Record) -> std::io::Result<()> {
    serde_json::to_writer(out, record).map_err(std::io::Error::from)
}
