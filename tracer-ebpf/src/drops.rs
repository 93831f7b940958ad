//! Packet drops: `kfree_skb` with its `enum skb_drop_reason`. Two programs, one attached: the
//! BTF tracepoint (typed arguments) where the kernel supports it, else the classic tracepoint
//! whose record layout userspace read from tracefs.

use aya_ebpf::{
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext},
};
use tracer_common::{filter_flags, Hook, OFFSET_UNAVAILABLE};

use crate::{emit::emit, filter, kernel};

#[btf_tracepoint(function = "kfree_skb")]
pub fn pathtrace_kfree_skb(ctx: BtfTracePointContext) -> i32 {
    let skb: u64 = ctx.arg(0);
    let reason: u32 = ctx.arg(2);
    observe_drop(skb, reason);
    0
}

#[tracepoint]
pub fn pathtrace_kfree_skb_tp(ctx: TracePointContext) -> u32 {
    let t = kernel::tracepoint_offsets();
    if t.kfree_skb_skbaddr == OFFSET_UNAVAILABLE {
        return 0;
    }
    // SAFETY: offsets come from this kernel's tracepoint format.
    let Ok(skb) = (unsafe { ctx.read_at::<u64>(t.kfree_skb_skbaddr as usize) }) else {
        return 0;
    };
    let reason = if t.kfree_skb_reason == OFFSET_UNAVAILABLE {
        0
    } else {
        unsafe { ctx.read_at::<u32>(t.kfree_skb_reason as usize) }.unwrap_or(0)
    };
    observe_drop(skb, reason);
    0
}

#[inline(always)]
fn observe_drop(skb: u64, reason: u32) -> Option<()> {
    if filter::filter().flags & filter_flags::DROPS == 0 {
        return None;
    }
    let (ev, bytes) = kernel::skb_event(skb, Hook::Drop)?;
    ev.drop_reason = reason;
    emit(ev, &bytes, bytes.available());
    Some(())
}
