//! Check 7: what the topology itself predicted, at or past the furthest hop: a drop flow, a
//! table miss, NORMAL's VLAN rules, a smaller MTU.

use super::cause::Cause;
use crate::journey::correlate::OrientedHop;

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
