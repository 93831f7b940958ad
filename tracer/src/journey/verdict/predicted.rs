//! Check 7: what the topology itself predicted, at or past the furthest hop: a drop flow, a
//! table miss, NORMAL's VLAN rules, a smaller MTU, a path that breaks. A path that breaks
//! right where the packet was last seen is also check 2 (before the kernel's drops).

use super::cause::Cause;
use crate::{journey::correlate::OrientedHop, path::Note};

pub fn block_ahead(path: &[OrientedHop<'_>], furthest: usize) -> Option<Cause> {
    path.iter().skip(furthest).find_map(|p| {
        p.hop
            .notes
            .iter()
            .find(|n| n.predicts_drop())
            .map(|n| Cause::PredictedBlock {
                hop: p.hop.name.clone(),
                note: n.clone(),
            })
    })
}

/// The packet reached the end of its side of a path that breaks (see `path::gap`): the break
/// is the cause, whatever the kernel then did with a frame it had nowhere to send.
pub fn gap_reached(path: &[OrientedHop<'_>], furthest: usize) -> Option<Cause> {
    let here = path.get(furthest)?.hop;
    here.notes
        .iter()
        .find(|n| matches!(n, Note::PathBreaks { .. }))
        .map(|n| Cause::PredictedBlock {
            hop: here.name.clone(),
            note: n.clone(),
        })
}
