//! Checks 2 and 6: the kernel dropped the packet. The packet did not arrive, so a drop of it (or
//! of its bridge-flood copy, which can come before the bridge's own copy is delivered) is
//! evidence whenever it happened; a drop that names its reason is preferred to one that does
//! not, and one that says little is kept for after the more telling checks.

use super::cause::Cause;
use crate::event::{HookKind, Sighting};

pub struct Drop {
    pub cause: Cause,
    /// `NOT_SPECIFIED`, `DEV_READY` or no reason at all.
    pub says_little: bool,
}

pub fn last(sightings: &[Sighting]) -> Option<Drop> {
    let drops: Vec<&Sighting> = sightings
        .iter()
        .filter(|s| s.hop.hook == HookKind::Drop)
        .collect();
    let says_little = |s: &Sighting| s.hop.drop_reason.as_ref().is_none_or(|r| r.says_little());
    let d = drops
        .iter()
        .rev()
        .find(|d| !says_little(d))
        .or(drops.last())?;
    Some(Drop {
        cause: Cause::KernelDrop {
            reason: d.hop.drop_reason.clone(),
            ifname: d.hop.ifname.clone(),
            netns: d.hop.netns.clone(),
        },
        says_little: says_little(d),
    })
}
