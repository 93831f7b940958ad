//! TC classifiers on ingress and egress of the interfaces on the expected path.
//!
//! They only read: every path returns `TC_ACT_UNSPEC`, which in tcx means "next program" and
//! in a netlink cls_bpf chain "continue with the next filter", so the packet and any other TC
//! program behave exactly as if pathtrace were not there.

use aya_ebpf::{macros::classifier, programs::TcContext};
use network_types::eth::EthHdr;
use tracer_common::{Hook, PacketEvent, VlanSource};

use crate::{emit::emit, filter, kernel, parse};

const TC_ACT_UNSPEC: i32 = -1;

struct SkbBytes<'a>(&'a TcContext);

impl parse::PacketBytes for SkbBytes<'_> {
    #[inline(always)]
    fn read<T>(&self, off: usize) -> Option<T> {
        self.0.load::<T>(off).ok()
    }
}

#[classifier]
pub fn pathtrace_tc_ingress(ctx: TcContext) -> i32 {
    observe(&ctx, Hook::TcIngress);
    TC_ACT_UNSPEC
}

#[classifier]
pub fn pathtrace_tc_egress(ctx: TcContext) -> i32 {
    observe(&ctx, Hook::TcEgress);
    TC_ACT_UNSPEC
}

#[inline(always)]
fn observe(ctx: &TcContext, hook: Hook) {
    let f = filter::filter();
    let bytes = SkbBytes(ctx);
    // Cheapest possible rejection first: one 14-byte read.
    let Some(eth) = parse::PacketBytes::read::<EthHdr>(&bytes, 0) else {
        return;
    };
    let may_be_dhcp = parse::is_broadcast(&eth.dst_addr);
    if filter::rejected_by_l2(&f, &eth.src_addr, &eth.dst_addr, may_be_dhcp) {
        return;
    }

    // SAFETY: the context pointer is valid for the whole program run.
    let skb = unsafe { &*ctx.skb.skb };
    let mut ev: PacketEvent = unsafe { core::mem::zeroed() };
    if skb.vlan_present != 0 {
        ev.vlan_source = VlanSource::Accelerated as u8;
        ev.vlan_tci = skb.vlan_tci as u16;
        ev.vlan_proto = u16::from_be(skb.vlan_proto as u16);
    }
    let Some(l3) = parse::parse_l2(&bytes, &mut ev) else {
        return;
    };
    parse::parse_l3(&bytes, &mut ev, l3);
    if !filter::matches(&f, &ev) {
        return;
    }

    // The TC context is the kernel's struct sk_buff, so its address identifies the skb just as
    // the drop probe's argument does.
    let skb_addr = ctx.skb.skb as u64;
    let offsets = kernel::offsets();
    let (_, netns) = kernel::skb_device(skb_addr, &offsets);
    ev.timestamp_ns = unsafe { aya_ebpf::helpers::bpf_ktime_get_ns() };
    ev.skb_addr = skb_addr;
    ev.netns_ino = netns;
    ev.ifindex = skb.ifindex;
    ev.len = skb.len;
    ev.hook = hook as u8;
    emit(&ev);
}
