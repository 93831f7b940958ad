//! Delivery of events to userspace, with the packet snapshot and loss accounting.

use aya_ebpf::{
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_ns},
    macros::map,
    maps::{PerCpuArray, RingBuf},
};
use tracer_common::{EventRecord, Hook, PacketEvent, SNAPSHOT_MAX};

use crate::filter;

/// Default size; userspace resizes it at load time (`--ring-buffer-size`).
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(4 << 20, 0);

/// Events that could not be reserved in [`EVENTS`] (ring buffer full), per CPU so counting
/// never contends.
#[map(name = "LOST")]
static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Where events are built: 184 bytes do not fit next to the parser on the 512-byte BPF stack.
/// One slot per hook, so a probe interrupted on its CPU by another hook (a drop in softirq
/// during a task-context probe) never shares a slot with it; the kernel does not nest a program
/// inside itself on one CPU.
#[map(name = "SCRATCH")]
static SCRATCH: PerCpuArray<PacketEvent> = PerCpuArray::with_max_entries(8, 0);

/// This CPU's zeroed scratch event for `hook`.
#[inline(always)]
pub fn scratch(hook: Hook) -> Option<&'static mut PacketEvent> {
    let p = SCRATCH.get_ptr_mut(hook as u32)?;
    // SAFETY: per-CPU slot owned by this program for the duration of its run.
    unsafe {
        core::ptr::write_bytes(p, 0, 1);
        Some(&mut *p)
    }
}

/// Copies the first bytes of the packet for the snapshot.
pub trait Snapshot {
    /// Copies `len` bytes (1..=[`SNAPSHOT_MAX`]) of the packet, from its Ethernet header, to
    /// `dst`; false if they could not be read.
    fn copy_to(&self, dst: *mut u8, len: u32) -> bool;
}

/// Sends `event` with up to `available` bytes of snapshot to userspace, or counts it as lost.
/// Never fails the caller: a probe must not change what happens to the packet because of its
/// own bookkeeping.
#[inline(always)]
pub fn emit<S: Snapshot>(event: &mut PacketEvent, snapshot: &S, available: u32) {
    event.timestamp_ns = unsafe { bpf_ktime_get_ns() };
    event.cpu = unsafe { bpf_get_smp_processor_id() };
    let Some(mut entry) = EVENTS.reserve::<EventRecord>(0) else {
        if let Some(lost) = LOST.get_ptr_mut(0) {
            // SAFETY: per-CPU slot, only this CPU writes it while the program runs.
            unsafe { *lost += 1 };
        }
        return;
    };
    let record = entry.as_mut_ptr();
    let mut len = filter::filter().snapshot_len as u32;
    if len > available {
        len = available;
    }
    if len > SNAPSHOT_MAX as u32 {
        len = SNAPSHOT_MAX as u32;
    }
    // SAFETY: `record` points to a reserved, writable EventRecord.
    unsafe {
        let dst = core::ptr::addr_of_mut!((*record).snapshot) as *mut u8;
        event.snapshot_len = if len > 0 && snapshot.copy_to(dst, len) {
            len as u16
        } else {
            0
        };
        core::ptr::addr_of_mut!((*record).event).write(*event);
    }
    // Waking the reader costs an irq_work per event; instead it is woken once a batch is
    // waiting, and polls on a short timer for the stragglers of a quiet trace.
    let pending = EVENTS.query(BPF_RB_AVAIL_DATA);
    entry.submit(if pending >= WAKEUP_BATCH_BYTES {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    });
}

/// Pending bytes that justify waking userspace (a few dozen events).
const WAKEUP_BATCH_BYTES: u64 = 32 << 10;
const BPF_RB_AVAIL_DATA: u64 = 0;
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;
