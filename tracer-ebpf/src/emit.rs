//! Delivery of events to userspace, with the packet snapshot and loss accounting.

use core::intrinsics::{atomic_xadd, AtomicOrdering};

use aya_ebpf::{
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_ns},
    macros::map,
    maps::{PerCpuArray, RingBuf},
};
use tracer_common::{
    wire::DEFAULT_RING_BUFFER_BYTES, EventRecord, Hook, PacketEvent, SNAPSHOT_MAX,
};

use crate::{filter, mem};

/// Default size; userspace resizes it at load time (`--ring-buffer-size`).
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(DEFAULT_RING_BUFFER_BYTES, 0);

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
        // Map values are 8-aligned; a helper's result carries no alignment for the compiler,
        // which without this reads and compares every field of the event a byte at a time.
        core::hint::assert_unchecked(p as usize % align_of::<PacketEvent>() == 0);
        mem::zero(p);
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
    let mut len = filter::filter().snapshot_len as u32;
    if len > available {
        len = available;
    }
    // The smallest record class that holds the snapshot (see `EventRecord`): the reservation
    // size must be a constant for the verifier, hence one branch per class.
    if len == 0 {
        emit_in::<0, S>(event, snapshot, 0)
    } else if len <= 64 {
        emit_in::<64, S>(event, snapshot, len)
    } else if len <= 128 {
        emit_in::<128, S>(event, snapshot, len)
    } else if len <= 256 {
        emit_in::<256, S>(event, snapshot, len)
    } else {
        emit_in::<SNAPSHOT_MAX, S>(event, snapshot, len)
    }
}

/// [`emit`] into a record with an `N`-byte snapshot area; `len` is 0 for `N == 0`, else
/// 1..=`N`.
#[inline(always)]
fn emit_in<const N: usize, S: Snapshot>(event: &mut PacketEvent, snapshot: &S, len: u32) {
    let Some(mut entry) = EVENTS.reserve::<EventRecord<N>>(0) else {
        if let Some(lost) = LOST.get_ptr_mut(0) {
            // Atomic although per CPU: a hook in softirq (a drop, a TC program) can interrupt
            // a task-context hook on this CPU between its load and its store, and one of the
            // two losses would go uncounted. The result is unused, so this is a plain
            // `lock xadd`, which every kernel with BPF ring buffers accepts. (The bpfel target
            // has no `AtomicU64::fetch_add`, hence the intrinsic.)
            // SAFETY: `lost` points to this CPU's 8-aligned slot, valid while we run.
            unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(lost, 1) };
        }
        return;
    };
    let record = entry.as_mut_ptr();
    // Restated as a mask (N is a power of two) so the verifier sees the copy bounded by the
    // area: the compiler would fold a comparison into the caller's, which the verifier loses
    // track of. `black_box` keeps the mask from being folded as well.
    let len = if N == 0 {
        0
    } else {
        ((core::hint::black_box(len).wrapping_sub(1)) & (N as u32 - 1)) + 1
    };
    // SAFETY: `record` points to a reserved, writable, 8-aligned record.
    unsafe {
        let dst = core::ptr::addr_of_mut!((*record).snapshot) as *mut u8;
        event.snapshot_len = if N > 0 && len > 0 && snapshot.copy_to(dst, len) {
            len as u16
        } else {
            0
        };
        mem::copy(core::ptr::addr_of_mut!((*record).event), event);
    }
    // The reader is never woken from here: userspace polls the ring every few milliseconds.
    // A wakeup is an irq_work (a self-IPI, a VM exit when virtualised), and even deciding when
    // to wake by asking the ring how much is pending (`bpf_ringbuf_query`) reads the reader's
    // position, a cache line the reader writes from another CPU. On this project's
    // nested-virtualised CI machine either one cost more per event than the rest of the
    // program (`cargo xtask bench`); the ring holds far more than a poll interval of events.
    entry.submit(BPF_RB_NO_WAKEUP);
}

const BPF_RB_NO_WAKEUP: u64 = 1;
