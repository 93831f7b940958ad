//! What a journey reads after its capture, once everything is detached: the OpenFlow flow
//! counters, settled first where the path crosses Open vSwitch, and the rest of the topology
//! again (link states, servers that died). The counters are the evidence for a drop flow, and
//! the slow path's drops leave no kernel event at all, so a run stopped by a signal (or by its
//! output closing) still reads them, under a deadline it announces; a second signal or the
//! deadline leaves the reading to its thread and the verdict is made without it, saying so.

use std::{
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::{
    clock, interrupt,
    journey::after_capture::AfterCapture,
    topology::{self, Topology},
};

/// How long a stopped run waits for the evidence, at most: the settle and a rediscovery take
/// about 150 ms on a host without Open vSwitch, 1.5 s with it, and 3 s in a test VM under
/// emulation. Only a wedged daemon makes it wait this long, and a second Ctrl-C ends it.
pub const DEADLINE: Duration = Duration::from_secs(8);
/// ovs-vswitchd's revalidators push datapath flow statistics to OpenFlow rules about twice a
/// second; the drop-flow evidence needs them.
const FLOW_STATS_SETTLE: Duration = Duration::from_millis(1200);

/// The topology after the capture, or `before` again with why it is not. `settle`: wait for
/// the flow statistics first.
pub fn collect(
    opts: &topology::Options,
    settle: bool,
    before: &Topology,
) -> (Topology, AfterCapture) {
    let (tx, rx) = mpsc::channel();
    let opts = opts.clone();
    let started = Instant::now();
    let worker = std::thread::Builder::new()
        .name("evidence".into())
        .spawn(move || {
            if settle {
                std::thread::sleep(FLOW_STATS_SETTLE);
            }
            let _ = tx.send(topology::discover(&opts));
        });
    if let Err(e) = worker {
        tracing::warn!("cannot read the evidence after the capture: {e}");
        return (before.clone(), AfterCapture::Failed);
    }
    let announce = |stop| {
        eprintln!(
            "pathtrace: stopped by {stop}; reading the evidence after the capture for up to {} s (Ctrl-C again to skip)",
            DEADLINE.as_secs()
        )
    };
    let answer = interrupt::await_unless_skipped(&rx, DEADLINE, announce);
    tracing::info!(
        "evidence after the capture: {:.0} ms",
        clock::ms_since(started)
    );
    let skipped = match answer {
        Ok(Ok(after)) => return (after, AfterCapture::Read),
        Ok(Err(e)) => {
            tracing::warn!("rediscovery after the trace failed, using the first one: {e:#}");
            return (before.clone(), AfterCapture::Failed);
        }
        Err(interrupt::Skipped::WorkerGone) => return (before.clone(), AfterCapture::Failed),
        Err(interrupt::Skipped::Repeated) => AfterCapture::SkippedBySignal,
        Err(interrupt::Skipped::Deadline) => AfterCapture::DeadlinePassed,
    };
    eprintln!("pathtrace: evidence after the capture {skipped}; the verdict is made without it");
    (before.clone(), skipped)
}
