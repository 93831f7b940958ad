//! Reads of kernel structures at offsets userspace resolved from BTF (see
//! `tracer_common::KernelOffsets`): aya has no CO-RE, so no layout is compiled in.

use aya_ebpf::helpers::bpf_probe_read_kernel;
use tracer_common::{KernelOffsets, OFFSET_UNAVAILABLE};

#[no_mangle]
static OFFSETS: KernelOffsets = KernelOffsets::UNAVAILABLE;

#[inline(always)]
pub fn offsets() -> KernelOffsets {
    // Volatile so the compiler does not fold the placeholder: the real values are written into
    // .rodata by the loader, and the verifier then sees them as constants.
    unsafe { core::ptr::read_volatile(&OFFSETS) }
}

/// Reads a `T` at `base + off`, or `None` if the field is unavailable or the read faults.
#[inline(always)]
pub fn read_at<T>(base: u64, off: u16) -> Option<T> {
    if off == OFFSET_UNAVAILABLE || base == 0 {
        return None;
    }
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const T).ok() }
}

/// Identity of the device an skb is on: (ifindex, netns inode).
#[inline(always)]
pub fn skb_device(skb: u64, o: &KernelOffsets) -> (u32, u32) {
    let Some(dev) = read_at::<u64>(skb, o.skb_dev) else {
        return (0, 0);
    };
    let ifindex = read_at::<i32>(dev, o.dev_ifindex).unwrap_or(0) as u32;
    let netns = read_at::<u64>(dev, o.dev_nd_net)
        .and_then(|net| read_at::<u32>(net, o.net_inum))
        .unwrap_or(0);
    (ifindex, netns)
}
