//! Reads of kernel structures at offsets userspace resolved from BTF and tracefs (see
//! `tracer_common::KernelOffsets`): aya has no CO-RE, so no layout is compiled in. Also the
//! parse of an skb reached through a pointer (drops, OVS), shared by those probes.

use aya_ebpf::helpers::{bpf_probe_read_kernel, generated as gen};
use tracer_common::{
    Filter, Hook, KernelOffsets, PacketEvent, TracepointOffsets, VlanSource, OFFSET_UNAVAILABLE,
};

use crate::{
    classify::{classify, Start},
    emit::{self, Snapshot},
    filter, parse,
};

#[no_mangle]
static OFFSETS: KernelOffsets = KernelOffsets::UNAVAILABLE;

#[no_mangle]
static TP_OFFSETS: TracepointOffsets = TracepointOffsets::UNAVAILABLE;

#[inline(always)]
pub fn offsets() -> &'static KernelOffsets {
    // A volatile read of the address so the compiler does not fold the placeholder: the real
    // values are written into .rodata by the loader, and the verifier then sees them as
    // constants. By reference, to keep the 512-byte stack free.
    unsafe { core::ptr::read_volatile(&&OFFSETS) }
}

#[inline(always)]
pub fn tracepoint_offsets() -> &'static TracepointOffsets {
    unsafe { core::ptr::read_volatile(&&TP_OFFSETS) }
}

/// Reads a `T` at `base + off`, or `None` if the field is unavailable or the read faults.
#[inline(always)]
pub fn read_at<T>(base: u64, off: u16) -> Option<T> {
    if off == OFFSET_UNAVAILABLE || base == 0 {
        return None;
    }
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const T).ok() }
}

/// Identity of a net_device: (ifindex, netns inode).
#[inline(always)]
pub fn device(dev: u64, o: &KernelOffsets) -> (u32, u32) {
    let ifindex = read_at::<i32>(dev, o.dev_ifindex).unwrap_or(0) as u32;
    (ifindex, device_netns(dev, o))
}

/// The inode of the network namespace of the net_device `dev`, or 0.
#[inline(always)]
pub fn device_netns(dev: u64, o: &KernelOffsets) -> u32 {
    read_at::<u64>(dev, o.dev_nd_net)
        .and_then(|net| read_at::<u32>(net, o.net_inum))
        .unwrap_or(0)
}

/// Identity of the device an skb is on: (ifindex, netns inode).
#[inline(always)]
pub fn skb_device(skb: u64, o: &KernelOffsets) -> (u32, u32) {
    match read_at::<u64>(skb, o.skb_dev) {
        Some(dev) => device(dev, o),
        None => (0, 0),
    }
}

/// `skb->mac_header` value meaning "not set".
const MAC_HEADER_UNSET: u16 = 0xffff;

/// Packet bytes read straight from an skb's linear buffer.
pub struct KernelBytes {
    base: u64,
    /// Bytes of linear data readable from `base`.
    limit: usize,
}

impl parse::PacketBytes for KernelBytes {
    #[inline(always)]
    fn read<T>(&self, off: usize) -> Option<T> {
        if off + core::mem::size_of::<T>() > self.limit {
            return None;
        }
        unsafe { bpf_probe_read_kernel((self.base + off as u64) as *const T) }.ok()
    }
}

impl Snapshot for KernelBytes {
    #[inline(always)]
    fn copy_to(&self, dst: *mut u8, len: u32) -> bool {
        // SAFETY: the caller bounds `len` by the destination size; the source is checked by the
        // helper, which fails rather than faults.
        unsafe { gen::bpf_probe_read_kernel(dst as *mut _, len, self.base as *const _) == 0 }
    }
}

impl KernelBytes {
    /// Bytes available for a snapshot.
    pub fn available(&self) -> u32 {
        self.limit as u32
    }
}

/// Parses the packet of `skb` into `ev` and returns its bytes if it matches `f`. The device,
/// hook and timestamps are left to the caller.
#[inline(always)]
pub fn classify_skb(skb: u64, f: &Filter, ev: &mut PacketEvent) -> Option<KernelBytes> {
    let o = offsets();
    let head: u64 = read_at(skb, o.skb_head)?;
    let tail: u32 = read_at(skb, o.skb_tail)?;
    let mac: u16 = read_at(skb, o.skb_mac_header)?;
    let vlan_proto: u16 = read_at(skb, o.skb_vlan_proto).unwrap_or(0);
    if vlan_proto != 0 {
        ev.vlan_source = VlanSource::Accelerated as u8;
        ev.vlan_tci = read_at(skb, o.skb_vlan_tci).unwrap_or(0);
        ev.vlan_proto = u16::from_be(vlan_proto);
    }
    let (start, from) = if mac != MAC_HEADER_UNSET && (mac as u32) < tail {
        (Start::L2, mac)
    } else {
        // Locally generated and dropped before it got an L2 header: parse from L3.
        let nh: u16 = read_at(skb, o.skb_network_header)?;
        ev.flags |= tracer_common::event_flags::NO_MAC_HEADER;
        ev.ether_type = read_at(skb, o.skb_protocol)?;
        (Start::L3, nh)
    };
    if (from as u32) >= tail {
        return None;
    }
    let bytes = KernelBytes {
        base: head + from as u64,
        limit: (tail - from as u32) as usize,
    };
    if !classify(&bytes, ev, f, start) {
        return None;
    }
    ev.skb_addr = skb;
    ev.len = read_at(skb, o.skb_len).unwrap_or(0);
    Some(bytes)
}

/// The event for `skb` at `hook`, placed on the skb's device, if its packet matches the filter;
/// the caller adds what is specific to its hook and emits it.
#[inline(always)]
pub fn skb_event(skb: u64, hook: Hook) -> Option<(&'static mut PacketEvent, KernelBytes)> {
    let ev = emit::scratch(hook)?;
    let bytes = classify_skb(skb, filter::filter(), ev)?;
    let (ifindex, netns) = skb_device(skb, offsets());
    ev.netns_ino = netns;
    ev.ifindex = ifindex;
    ev.hook = hook as u8;
    Some((ev, bytes))
}
