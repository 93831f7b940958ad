//! The in-kernel filter: decides from parsed headers whether a packet is reported.

use tracer_common::{event_flags, filter_flags, Filter, PacketEvent};

#[no_mangle]
static FILTER: Filter = Filter {
    flags: 0,
    mac: [0; 6],
    _pad: [0; 2],
};

#[inline(always)]
pub fn filter() -> Filter {
    // Volatile for the same reason as `kernel::offsets`: the loader rewrites .rodata.
    unsafe { core::ptr::read_volatile(&FILTER) }
}

/// Whether the Ethernet header alone already rules the packet out, so that non-matching
/// traffic costs one header read. Only possible when the MAC criterion is on and the packet
/// cannot be DHCP (whose `chaddr` may match even when the addresses do not, e.g. a relayed or
/// broadcast reply).
#[inline(always)]
pub fn rejected_by_l2(f: &Filter, src: &[u8; 6], dst: &[u8; 6], may_be_dhcp: bool) -> bool {
    f.flags & filter_flags::MAC != 0 && !may_be_dhcp && *src != f.mac && *dst != f.mac
}

/// Whether a fully parsed packet matches every enabled criterion.
#[inline(always)]
pub fn matches(f: &Filter, ev: &PacketEvent) -> bool {
    let is_dhcp = ev.flags & event_flags::DHCP != 0;
    if f.flags & filter_flags::DHCP != 0 && !is_dhcp {
        return false;
    }
    if f.flags & filter_flags::MAC != 0
        && ev.src_mac != f.mac
        && ev.dst_mac != f.mac
        && !(is_dhcp && ev.dhcp_chaddr == f.mac)
    {
        return false;
    }
    true
}
