//! Everything pathtrace puts into the kernel, and its lifetime. Read this module to know what
//! is attached where: each attachment is a guard whose `Drop` removes it (in the right network
//! namespace), so normal exit, `?` errors and signals (which end the event loop normally) all
//! leave the kernel as it was.

mod clsact;
mod drops;
mod loader;
pub mod ovs;
pub mod tc;
mod tcx;

use serde::{Deserialize, Serialize};

pub use drops::{DropHook, DropProbe};
pub use loader::{LoadedProbes, ProbeConfig};
pub use ovs::OvsLink;
pub use tc::{AttachMode, Interface, TcAttachment};

/// Whether one hook is attached, and if not, why: printed at start and in the JSON summary, so
/// a degraded run (no kprobes, no OVS module) says what it cannot see.
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
