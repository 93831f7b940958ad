//! Whether one hook is attached, and if not, why: printed at start, in the JSON summary and in
//! the journey report, so a degraded run (no kprobes, no OVS module) says what it cannot see.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HookStatus {
    /// e.g. `tc`, `tp_btf/kfree_skb`, `kprobe/ovs_vport_receive`.
    pub hook: String,
    pub active: bool,
    /// How it is attached when active (e.g. "8 interfaces, tcx"), the reason when not.
    pub detail: String,
}

impl HookStatus {
    pub fn active(hook: String, detail: String) -> Self {
        Self {
            hook,
            active: true,
            detail,
        }
    }

    pub fn inactive(hook: String, reason: String) -> Self {
        Self {
            hook,
            active: false,
            detail: reason,
        }
    }
}
