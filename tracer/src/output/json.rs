//! JSON Lines: one object per hop, then one summary object.

use serde::Serialize;

use crate::event::{HookStatus, Hop, Vanished};

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
    },
}

pub fn line(record: &Record) -> String {
    serde_json::to_string(record).expect("records serialize infallibly")
}
