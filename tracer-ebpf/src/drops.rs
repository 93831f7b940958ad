//! Packet drops: `tp_btf/kfree_skb`, whose third argument is the `enum skb_drop_reason`.

use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};
use tracer_common::{event_flags, filter_flags, Hook, PacketEvent, VlanSource};

use crate::{emit::emit, filter, kernel, parse};

/// `skb->mac_header` value meaning "not set".
const MAC_HEADER_UNSET: u16 = 0xffff;

/// Packet bytes read straight from the skb's linear buffer.
struct KernelBytes {
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
        unsafe { aya_ebpf::helpers::bpf_probe_read_kernel((self.base + off as u64) as *const T) }
            .ok()
    }
}

#[btf_tracepoint(function = "kfree_skb")]
pub fn pathtrace_kfree_skb(ctx: BtfTracePointContext) -> i32 {
    let f = filter::filter();
    if f.flags & filter_flags::DROPS != 0 {
        let skb: u64 = ctx.arg(0);
        let reason: u32 = ctx.arg(2);
        observe_drop(&f, skb, reason);
    }
    0
}

#[inline(always)]
fn observe_drop(f: &tracer_common::Filter, skb: u64, reason: u32) -> Option<()> {
    let o = kernel::offsets();
    let head: u64 = kernel::read_at(skb, o.skb_head)?;
    let tail: u32 = kernel::read_at(skb, o.skb_tail)?;
    let mac: u16 = kernel::read_at(skb, o.skb_mac_header)?;
    let mut ev: PacketEvent = unsafe { core::mem::zeroed() };

    let vlan_proto: u16 = kernel::read_at(skb, o.skb_vlan_proto).unwrap_or(0);
    if vlan_proto != 0 {
        ev.vlan_source = VlanSource::Accelerated as u8;
        ev.vlan_tci = kernel::read_at(skb, o.skb_vlan_tci).unwrap_or(0);
        ev.vlan_proto = u16::from_be(vlan_proto);
    }
    if mac != MAC_HEADER_UNSET && (mac as u32) < tail {
        let bytes = KernelBytes {
            base: head + mac as u64,
            limit: (tail - mac as u32) as usize,
        };
        let l3 = parse::parse_l2(&bytes, &mut ev)?;
        parse::parse_l3(&bytes, &mut ev, l3);
    } else {
        // Locally generated and dropped before it got an L2 header: parse from L3.
        let nh: u16 = kernel::read_at(skb, o.skb_network_header)?;
        if (nh as u32) >= tail {
            return None;
        }
        ev.flags |= event_flags::NO_MAC_HEADER;
        ev.ether_type = kernel::read_at(skb, o.skb_protocol)?;
        let bytes = KernelBytes {
            base: head + nh as u64,
            limit: (tail - nh as u32) as usize,
        };
        parse::parse_l3(&bytes, &mut ev, 0);
    }
    if !filter::matches(f, &ev) {
        return None;
    }
    let (ifindex, netns) = kernel::skb_device(skb, &o);
    ev.timestamp_ns = unsafe { aya_ebpf::helpers::bpf_ktime_get_ns() };
    ev.skb_addr = skb;
    ev.netns_ino = netns;
    ev.ifindex = ifindex;
    ev.len = kernel::read_at(skb, o.skb_len).unwrap_or(0);
    ev.drop_reason = reason;
    ev.hook = Hook::Drop as u8;
    emit(&ev);
    Some(())
}
