//! The drop probe: `kfree_skb` reports matching packets the kernel drops, with the reason. The
//! BTF tracepoint is preferred (typed arguments, no tracefs); the classic tracepoint, whose
//! record layout is read from tracefs, is the fallback for kernels or sandboxes without it.

use anyhow::{bail, Context as _, Result};
use aya::{
    programs::{tp_btf::BtfTracePointLink, trace_point::TracePointLink, BtfTracePoint, TracePoint},
    Btf,
};
use tracer_common::OFFSET_UNAVAILABLE;

/// Which kfree_skb hook to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DropHook {
    /// `tp_btf/kfree_skb`, falling back to the classic tracepoint.
    Auto,
    /// Only `tp_btf/kfree_skb`.
    Btf,
    /// Only the classic `skb:kfree_skb` tracepoint.
    Tracepoint,
}

/// The BTF tracepoint event the drop probe is resolved against.
pub(super) const KFREE_SKB_EVENT: &str = "kfree_skb";

/// Keeps the drop probe attached while alive.
pub enum DropProbe {
    Btf(#[allow(dead_code)] BtfTracePointLink),
    Tracepoint(#[allow(dead_code)] TracePointLink),
}

impl DropProbe {
    /// "tp_btf/kfree_skb" or "tracepoint/skb:kfree_skb", for status lines.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Btf(_) => "tp_btf/kfree_skb",
            Self::Tracepoint(_) => "tracepoint/skb:kfree_skb",
        }
    }

    pub(super) fn attach_btf(program: &mut BtfTracePoint, btf: &Btf) -> Result<Self> {
        super::verify::loaded(program.load(KFREE_SKB_EVENT, btf))
            .context("the kernel rejected the tp_btf/kfree_skb drop probe")?;
        let id = program.attach().context("cannot attach tp_btf/kfree_skb")?;
        Ok(Self::Btf(program.take_link(id)?))
    }

    pub(super) fn attach_tracepoint(program: &mut TracePoint, skbaddr_offset: u16) -> Result<Self> {
        if skbaddr_offset == OFFSET_UNAVAILABLE {
            bail!("the skb:kfree_skb tracepoint format is not readable (tracefs)");
        }
        super::verify::loaded(program.load())
            .context("the kernel rejected the skb:kfree_skb drop probe")?;
        let id = program
            .attach("skb", "kfree_skb")
            .context("cannot attach to the skb:kfree_skb tracepoint")?;
        Ok(Self::Tracepoint(program.take_link(id)?))
    }
}
