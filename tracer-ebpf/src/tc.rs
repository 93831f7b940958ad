//! TC classifiers on ingress and egress of the interfaces on the expected path.
//!
//! They only read: every path returns `TC_ACT_UNSPEC`, which in tcx means "next program" and
//! in a netlink cls_bpf chain "continue with the next filter", so the packet and any other TC
//! program behave exactly as if pathtrace were not there.

use aya_ebpf::{
    helpers::generated::bpf_skb_load_bytes, macros::classifier, programs::TcContext,
    EbpfContext as _,
};
use network_types::eth::EthHdr;
use tracer_common::{
    filter_flags, tunnel_ports,
    wire::{ethertype, header_len, ip_proto},
    Filter, Hook, VlanSource,
};

use crate::{
    classify::{classify, Start},
    emit::{self, emit, Snapshot},
    filter, netns, parse,
};

const TC_ACT_UNSPEC: i32 = -1;

const IPV4_PROTO_OFF: usize = 9;
const IPV6_NEXT_HEADER_OFF: usize = 6;
/// An option-less IPv4 header (version 4, IHL 5) and its length.
const IPV4_NO_OPTIONS: u8 = 0x45;
const IPV4_MIN_HLEN: usize = 20;
/// The UDP destination port is the second 16-bit word of the header.
const UDP_DPORT_OFF: usize = 2;

struct SkbBytes<'a>(&'a TcContext);

impl parse::PacketBytes for SkbBytes<'_> {
    #[inline(always)]
    fn read<T>(&self, off: usize) -> Option<T> {
        // Headers are nearly always in the linear part, where a bounds check replaces a helper
        // call; the helper also reaches paged data (some drivers' ingress).
        match direct::<T>(self.0, off) {
            Some(v) => Some(v),
            None => self.read_payload(off),
        }
    }

    #[inline(always)]
    fn read_payload<T>(&self, off: usize) -> Option<T> {
        // Only the helper: direct reads at DHCP option offsets defeat the verifier's packet
        // range tracking once LLVM has rewritten the bounds checks.
        self.0.load::<T>(off).ok()
    }
}

impl Snapshot for SkbBytes<'_> {
    #[inline(always)]
    fn copy_to(&self, dst: *mut u8, len: u32) -> bool {
        // SAFETY: the caller bounds `len` by the destination size; the helper checks the packet.
        unsafe { bpf_skb_load_bytes(self.0.as_ptr() as *const _, 0, dst as *mut _, len) == 0 }
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

/// Reads a `T` at `off` straight from the linear packet data (no helper call), or `None` if the
/// bytes are not in the linear part.
#[inline(always)]
fn direct<T>(ctx: &TcContext, off: usize) -> Option<T> {
    let start = ctx.data() + off;
    if start + core::mem::size_of::<T>() > ctx.data_end() {
        return None;
    }
    // SAFETY: bounds checked against data_end just above.
    Some(unsafe { core::ptr::read_unaligned(start as *const T) })
}

/// Whether the packet certainly does not match, decided from the first bytes with direct packet
/// access so that the traffic of everyone else costs a few loads. Only the MAC criterion rules
/// packets out this early, and only when it must hold on its own (not either-or with an
/// address, which a routed packet keeps without the MAC); broadcasts (DHCP `chaddr` may match),
/// VLAN-tagged frames and UDP to a tunnel port (the inner frame may match) go on to the full
/// parse.
#[inline(always)]
fn quickly_rejected(ctx: &TcContext, f: &Filter) -> bool {
    if f.flags & filter_flags::MAC == 0 || f.flags & filter_flags::MAC_OR_ADDR != 0 {
        return false;
    }
    let Some(eth) = direct::<EthHdr>(ctx, 0) else {
        return false;
    };
    if eth.src_addr == f.mac || eth.dst_addr == f.mac || eth.dst_addr[0] & 1 != 0 {
        return false;
    }
    let udp_dport_at = match u16::from_be(eth.ether_type) {
        ethertype::IPV4 => match direct::<u8>(ctx, EthHdr::LEN) {
            // Only option-less IPv4 headers are checked here; others take the full parse.
            Some(IPV4_NO_OPTIONS) => {
                if direct::<u8>(ctx, EthHdr::LEN + IPV4_PROTO_OFF) != Some(ip_proto::UDP) {
                    return true;
                }
                EthHdr::LEN + IPV4_MIN_HLEN + UDP_DPORT_OFF
            }
            _ => return false,
        },
        ethertype::IPV6 => {
            if direct::<u8>(ctx, EthHdr::LEN + IPV6_NEXT_HEADER_OFF) != Some(ip_proto::UDP) {
                // Extension headers could hide a UDP tunnel; they are rare enough to parse.
                return direct::<u8>(ctx, EthHdr::LEN + IPV6_NEXT_HEADER_OFF).is_some_and(|nh| {
                    !matches!(
                        nh,
                        ip_proto::HOPOPTS | ip_proto::ROUTING | ip_proto::DSTOPTS
                    )
                });
            }
            EthHdr::LEN + header_len::IPV6 + UDP_DPORT_OFF
        }
        ethertype::VLAN | ethertype::QINQ => return false,
        _ => return true,
    };
    match direct::<[u8; 2]>(ctx, udp_dport_at) {
        Some(p) => !matches!(
            u16::from_be_bytes(p),
            tunnel_ports::VXLAN | tunnel_ports::VXLAN_LINUX | tunnel_ports::GENEVE
        ),
        None => false,
    }
}

#[inline(always)]
fn observe(ctx: &TcContext, hook: Hook) {
    let f = filter::filter();
    if quickly_rejected(ctx, f) {
        return;
    }
    // SAFETY: the context pointer is valid for the whole program run.
    let skb = unsafe { &*ctx.skb.skb };
    let Some(ev) = emit::scratch(hook) else {
        return;
    };
    if skb.vlan_present != 0 {
        ev.vlan_source = VlanSource::Accelerated as u8;
        ev.vlan_tci = skb.vlan_tci as u16;
        ev.vlan_proto = u16::from_be(skb.vlan_proto as u16);
    }
    let bytes = SkbBytes(ctx);
    if !classify(&bytes, ev, f, Start::L2) {
        return;
    }
    // The TC context is the kernel's struct sk_buff, so its address identifies the skb just as
    // the other probes' skb argument does.
    let skb_addr = ctx.skb.skb as u64;
    ev.skb_addr = skb_addr;
    ev.netns_ino = netns::of_tc_device(skb_addr, skb.ifindex);
    ev.ifindex = skb.ifindex;
    ev.len = skb.len;
    ev.hook = hook as u8;
    emit(ev, &bytes, skb.len);
}
