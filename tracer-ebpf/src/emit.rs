//! Delivery of events to userspace, with loss accounting.

use aya_ebpf::{
    macros::map,
    maps::{PerCpuArray, RingBuf},
};
use tracer_common::PacketEvent;

/// Default size; userspace resizes it at load time (`--ring-buffer-size`).
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(4 << 20, 0);

/// Events that could not be reserved in [`EVENTS`] (ring buffer full), per CPU so counting
/// never contends.
#[map(name = "LOST")]
static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Sends `event` to userspace, or counts it as lost. Never fails the caller: a probe must not
/// change what happens to the packet because of its own bookkeeping.
#[inline(always)]
pub fn emit(event: &PacketEvent) {
    match EVENTS.reserve::<PacketEvent>(0) {
        Some(mut entry) => {
            entry.write(*event);
            entry.submit(0);
        }
        None => {
            if let Some(lost) = LOST.get_ptr_mut(0) {
                // SAFETY: per-CPU slot, only this CPU writes it while the program runs.
                unsafe { *lost += 1 };
            }
        }
    }
}
