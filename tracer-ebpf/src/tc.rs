//! TC classifiers on ingress and egress of the interfaces on the expected path.
//!
//! They only read: every path returns `TC_ACT_UNSPEC`, which in tcx means "next program" and
//! in a netlink cls_bpf chain "continue with the next filter", so the packet and any other TC
//! program behave exactly as if pathtrace were not there.

use aya_ebpf::{
    helpers::generated::bpf_skb_load_bytes, macros::classifier, programs::TcContext,
    EbpfContext as _,
};
use core::mem::MaybeUninit;

use network_types::eth::EthHdr;
use tracer_common::{
    filter_flags, tunnel_ports,
    wire::{ethertype, header_len, ip_proto},
    Filter, Hook, VlanSource, TC_NETNS_GROUPS,
};

use crate::{
    classify::{classify, Start},
    emit::{self, emit, Snapshot},
    filter, netns, parse, sender,
};

const TC_ACT_UNSPEC: i32 = -1;

const IPV4_PROTO_OFF: usize = 9;
const IPV6_NEXT_HEADER_OFF: usize = 6;
/// Where the source address starts (the destination follows it) in each header.
const IPV4_SADDR_OFF: usize = 12;
const IPV6_SADDR_OFF: usize = 8;
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

/// The ingress and egress classifiers of each namespace group (`tracer_common::TC_NETNS_GROUPS`,
/// named by `TC_INGRESS_PROGRAMS` and `TC_EGRESS_PROGRAMS`): the same code, with the group a
/// constant.
macro_rules! classifiers {
    ($($group:literal: $ingress:ident, $egress:ident;)*) => {$(
        #[classifier]
        pub fn $ingress(ctx: TcContext) -> i32 {
            observe::<$group>(&ctx, Hook::TcIngress);
            TC_ACT_UNSPEC
        }

        #[classifier]
        pub fn $egress(ctx: TcContext) -> i32 {
            observe::<$group>(&ctx, Hook::TcEgress);
            TC_ACT_UNSPEC
        }
    )*};
}

// One line per group: the contract's names are checked against the object by userspace's tests.
const _: () = assert!(TC_NETNS_GROUPS == 4);
classifiers! {
    0: pathtrace_tc_ingress, pathtrace_tc_egress;
    1: pathtrace_tc_ingress_g1, pathtrace_tc_egress_g1;
    2: pathtrace_tc_ingress_g2, pathtrace_tc_egress_g2;
    3: pathtrace_tc_ingress_g3, pathtrace_tc_egress_g3;
}

/// Reads a `T` at `off` straight from the linear packet data (no helper call), or `None` if the
/// bytes are not in the linear part.
#[inline(always)]
fn direct<T>(ctx: &TcContext, off: usize) -> Option<T> {
    // Bounded where it meets the packet pointer: an offset computed from packet bytes and
    // spilled to the stack comes back unbounded to 6.1's verifier, which then refuses the
    // addition. The mask changes no offset the parser computes (see `DIRECT_OFFSET_MASK`).
    let start = ctx.data() + (off & DIRECT_OFFSET_MASK);
    if start + core::mem::size_of::<T>() > ctx.data_end() {
        return None;
    }
    // SAFETY: bounds checked against data_end just above.
    Some(unsafe { load_words::<T>(start as *const u8) })
}

/// Above every offset the parser computes: the largest sum of the headers it steps over (two
/// VLAN tags, IPv6 with two 2 KiB extension headers, UDP, Geneve with 252 bytes of options, the
/// same again inside) is under 9 KiB. Well under the verifier's 64 KiB packet limit too, which
/// an offset plus the size read must not pass for the bounds check to count.
const DIRECT_OFFSET_MASK: usize = 0x3fff;

/// Reads a `T` from packet data in the widest loads that fit: headers are byte arrays (align 1),
/// which the compiler would otherwise read a byte at a time (a load, a shift and an or each).
///
/// # Safety
/// `p` must point into packet data with `size_of::<T>()` bytes bounds-checked; packet data needs
/// no alignment (see `MacWords::at`). `T` must be plain data, valid for any bytes.
#[inline(always)]
unsafe fn load_words<T>(p: *const u8) -> T {
    // A value of a register's size goes through a register only. Assembled on the stack, it
    // would be a spilled scalar the verifier tracks slot by slot, and the 8-byte reads the
    // parser makes at every layer (transport head, tunnel header) then multiplied the states it
    // explores: loading the programs took 1.2 s instead of 0.2 s on the host.
    match core::mem::size_of::<T>() {
        1 => core::mem::transmute_copy::<u8, T>(&core::ptr::read_volatile(p)),
        2 => core::mem::transmute_copy::<u16, T>(&core::ptr::read_volatile(p as *const u16)),
        4 => core::mem::transmute_copy::<u32, T>(&core::ptr::read_volatile(p as *const u32)),
        8 => core::mem::transmute_copy::<u64, T>(&core::ptr::read_volatile(p as *const u64)),
        _ => assemble_words::<T>(p),
    }
}

/// [`load_words`] for sizes other than a register's (the Ethernet and IPv4 headers, an IPv6
/// address): assembled in an 8-aligned buffer, only `T`'s own bytes returned, so no padding
/// (undefined to the compiler, an unreadable register to the verifier) travels with it.
///
/// # Safety
/// As [`load_words`].
#[inline(always)]
unsafe fn assemble_words<T>(p: *const u8) -> T {
    let mut buf = MaybeUninit::<Aligned<T>>::uninit();
    let dst = buf.as_mut_ptr() as *mut u8;
    let size = core::mem::size_of::<T>();
    let mut at = 0;
    // Unrolled: `size` is a constant. Volatile, so that the loads stay words.
    while at + 8 <= size {
        (dst.add(at) as *mut u64).write(core::ptr::read_volatile(p.add(at) as *const u64));
        at += 8;
    }
    if at + 4 <= size {
        (dst.add(at) as *mut u32).write(core::ptr::read_volatile(p.add(at) as *const u32));
        at += 4;
    }
    if at + 2 <= size {
        (dst.add(at) as *mut u16).write(core::ptr::read_volatile(p.add(at) as *const u16));
        at += 2;
    }
    if at < size {
        dst.add(at).write(core::ptr::read_volatile(p.add(at)));
    }
    (dst as *const T).read()
}

/// An 8-aligned home for a `T` being assembled from word loads.
#[repr(C, align(8))]
struct Aligned<T>(T);

/// A MAC address as the two words it is compared by: comparing the `[u8; 6]` arrays compiles,
/// on the BPF target, to twelve byte loads and shifts per address, most of what a packet that is
/// not ours costs.
#[derive(Clone, Copy, PartialEq, Eq)]
struct MacWords(u32, u16);

impl MacWords {
    /// # Safety
    /// `p` must be valid for 6 bytes of reads. Either it is 4-aligned, or it points into packet
    /// data, which BPF loads read at any alignment: the verifier enforces alignment of packet
    /// access only when asked to (`BPF_F_STRICT_ALIGNMENT`, which we do not pass) or on
    /// architectures without efficient unaligned access, which pathtrace does not run on.
    #[inline(always)]
    unsafe fn at(p: *const u8) -> Self {
        // Volatile, so that the compiler keeps the word loads instead of splitting them into
        // byte loads for a pointer it cannot prove aligned.
        Self(
            core::ptr::read_volatile(p as *const u32),
            core::ptr::read_volatile(p.add(4) as *const u16),
        )
    }
}

/// The Ethernet header's addresses and EtherType, read in five loads.
struct EthWords {
    dst: MacWords,
    src: MacWords,
    /// Network byte order.
    ether_type: u16,
}

impl EthWords {
    #[inline(always)]
    fn read(ctx: &TcContext) -> Option<Self> {
        let start = ctx.data();
        if start + EthHdr::LEN > ctx.data_end() {
            return None;
        }
        let p = start as *const u8;
        // SAFETY: the 14 bytes were bounds-checked against data_end just above; packet data
        // needs no alignment (see `MacWords::at`).
        unsafe {
            Some(Self {
                dst: MacWords::at(p),
                src: MacWords::at(p.add(ETH_ALEN)),
                ether_type: core::ptr::read_volatile(p.add(2 * ETH_ALEN) as *const u16),
            })
        }
    }
}

/// Bytes of a MAC address.
const ETH_ALEN: usize = 6;

/// Whether the packet certainly does not match, decided from the first bytes with direct packet
/// access so that the traffic of everyone else costs a few loads. Only the MAC criterion rules
/// packets out this early; where an address may stand in for it (a routed packet keeps its
/// addresses but not its sender's MAC: `--dst`, or the sender's address the probes learn), an
/// untagged IP packet with one of those addresses goes on too. Broadcasts (DHCP `chaddr` may
/// match), VLAN-tagged frames and UDP to a tunnel port (the inner frame may match) go on to the
/// full parse.
#[inline(always)]
fn quickly_rejected(ctx: &TcContext, f: &Filter) -> bool {
    if f.flags & filter_flags::MAC == 0 {
        return false;
    }
    let Some(eth) = EthWords::read(ctx) else {
        return false;
    };
    // SAFETY: `mac` is 4-aligned in the filter (offset 4 of a 4-aligned struct, asserted in
    // tracer-common), so both words are aligned.
    let wanted = unsafe { MacWords::at(f.mac.as_ptr()) };
    if eth.src == wanted || eth.dst == wanted || eth.dst.0.to_le_bytes()[0] & 1 != 0 {
        return false;
    }
    let by_address = f.flags & (filter_flags::MAC_OR_ADDR | filter_flags::LEARN_SENDER) != 0;
    let udp_dport_at = match u16::from_be(eth.ether_type) {
        ethertype::IPV4 => {
            if by_address && ipv4_address_stands_in(ctx, f) {
                return false;
            }
            match direct::<u8>(ctx, EthHdr::LEN) {
                // Only option-less IPv4 headers are checked here; others take the full parse.
                Some(IPV4_NO_OPTIONS) => {
                    if direct::<u8>(ctx, EthHdr::LEN + IPV4_PROTO_OFF) != Some(ip_proto::UDP) {
                        return true;
                    }
                    EthHdr::LEN + IPV4_MIN_HLEN + UDP_DPORT_OFF
                }
                _ => return false,
            }
        }
        ethertype::IPV6 => {
            if by_address && ipv6_address_stands_in(ctx, f) {
                return false;
            }
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

/// Whether an IPv4 packet's source or destination is an address that makes a packet ours
/// without the MAC (the filter's with `MAC_OR_ADDR`, the learned sender's with
/// `LEARN_SENDER`), or the addresses are not in the linear data (the full parse decides).
#[inline(always)]
fn ipv4_address_stands_in(ctx: &TcContext, f: &Filter) -> bool {
    // Source then destination, one load: on this little-endian target the source is the low
    // word.
    let Some(pair) = direct::<u64>(ctx, EthHdr::LEN + IPV4_SADDR_OFF) else {
        return true;
    };
    let (src, dst) = (pair as u32, (pair >> 32) as u32);
    let either = |a: [u8; 4]| {
        let a = u32::from_le_bytes(a);
        src == a || dst == a
    };
    let given = f.flags & filter_flags::MAC_OR_ADDR != 0
        && f.addr_ipv6 == 0
        && either([f.addr[0], f.addr[1], f.addr[2], f.addr[3]]);
    given
        || (f.flags & filter_flags::LEARN_SENDER != 0 && {
            let a = sender::v4();
            a != [0; 4] && either(a)
        })
}

/// [`ipv4_address_stands_in`] for IPv6: the two addresses read as four words.
#[inline(always)]
fn ipv6_address_stands_in(ctx: &TcContext, f: &Filter) -> bool {
    let at = EthHdr::LEN + IPV6_SADDR_OFF;
    let (Some(s0), Some(s1), Some(d0), Some(d1)) = (
        direct::<u64>(ctx, at),
        direct::<u64>(ctx, at + 8),
        direct::<u64>(ctx, at + 16),
        direct::<u64>(ctx, at + 24),
    ) else {
        return true;
    };
    let either = |a: &[u8; 16]| {
        let (w0, w1) = (
            u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]]),
            u64::from_le_bytes([a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]]),
        );
        (s0 == w0 && s1 == w1) || (d0 == w0 && d1 == w1)
    };
    let given = f.flags & filter_flags::MAC_OR_ADDR != 0 && f.addr_ipv6 != 0 && either(&f.addr);
    given
        || (f.flags & filter_flags::LEARN_SENDER != 0 && {
            let a = sender::v6();
            a != [0; 16] && either(&a)
        })
}

#[inline(always)]
fn observe<const GROUP: u32>(ctx: &TcContext, hook: Hook) {
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
    ev.netns_ino = netns::of_tc_device::<GROUP>(skb_addr, skb.ifindex);
    ev.ifindex = skb.ifindex;
    ev.len = skb.len;
    ev.hook = hook as u8;
    emit(ev, &bytes, skb.len);
}
