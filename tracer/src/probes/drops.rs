//! The `tp_btf/kfree_skb` probe: reports matching packets the kernel drops, with the reason.

use anyhow::{Context as _, Result};
use aya::{programs::BtfTracePoint, Btf};

/// Keeps the tracepoint attached while alive.
pub struct DropProbe {
    _link: aya::programs::tp_btf::BtfTracePointLink,
}

impl DropProbe {
    pub(super) fn attach(program: &mut BtfTracePoint, btf: &Btf) -> Result<Self> {
        program
            .load("kfree_skb", btf)
            .context("the kernel rejected the kfree_skb drop probe")?;
        let id = program
            .attach()
            .context("cannot attach to the kfree_skb tracepoint")?;
        Ok(Self {
            _link: program.take_link(id)?,
        })
    }
}
