//! Where a run's start-up time went, phase by phase, in milliseconds: what `--output json`'s
//! summary and the journey report give as `timings`, and what `cargo xtask bench` reads.

use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Reading the host: namespaces, links, OVSDB, servers, and the expected path (for
    /// `trace -i`: the namespaces and the interfaces it is given).
    pub discovery_ms: f64,
    /// Parsing the kernel's BTF, twice at once: for field offsets and drop reason names, and
    /// aya's for relocations.
    pub btf_ms: f64,
    /// Creating the maps and loading every program the session will attach (TC, drop probe,
    /// Open vSwitch hooks), verified in parallel.
    pub load_ms: f64,
    /// Attaching the TC programs to every traced interface.
    pub attach_tc_ms: f64,
    /// Attaching the drop probe (loading it too, if the parallel pass could not); 0 without one.
    pub attach_drops_ms: f64,
    /// Attaching the Open vSwitch hooks (as above); 0 when none was wanted.
    pub attach_ovs_ms: f64,
    /// From the process's start to every probe attached: the start-up an operator waits (for
    /// `trace --mac` without `--dst`, the wait for the first packet included).
    pub to_attached_ms: f64,
    /// From everything attached to the first event read; `None` if none came.
    pub first_event_ms: Option<f64>,
}
