//! The fault matrix on seed 004 with real Open vSwitch, for the classes only this bed has
//! (OpenFlow drops, a missing VLAN translation, MTU, a server that never ran), one cell per
//! class and way, each run twice: to its timeout, and stopped by SIGINT a few seconds after
//! the exchange failed, as people stop it; both must give the same verdict and cause (a
//! stopped run used to skip the flow counters and blame a bridge's benign copy). `cargo xtask
//! eval` runs every cell of every bed.

use pathtrace_testbed::faults::{self, Cell, Class, Ending};

#[test]
fn the_seed004_fault_matrix_sample_is_right_in_every_cell_timed_out_or_interrupted() {
    let on_host: Vec<Class> = faults::linux_compute_node()
        .iter()
        .map(|c| c.class)
        .collect();
    let cells: Vec<Cell> = faults::sample(&faults::seed004())
        .into_iter()
        .filter(|c| !on_host.contains(&c.class))
        .collect();
    assert!(cells.len() >= 5, "{cells:#?}");
    let wrong = faults::misses(&cells, &[Ending::Timeout, Ending::Interrupted]);
    assert!(wrong.is_empty(), "{wrong:#?}");
}
