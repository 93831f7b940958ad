//! The in-kernel filter: decides from parsed headers whether a packet is reported.

use crate::sender;
use tracer_common::{
    event_flags, filter_flags,
    wire::{ip_proto, vlan_tci},
    Filter, PacketEvent, VlanSource,
};

#[no_mangle]
static FILTER: Filter = Filter {
    flags: 0,
    mac: [0; 6],
    vlan_id: 0,
    addr: [0; 16],
    port: 0,
    snapshot_len: 0,
    ip_proto: 0,
    addr_ipv6: 0,
    _pad: [0; 2],
};

#[inline(always)]
pub fn filter() -> &'static Filter {
    // Through a volatile read of its address for the same reason as `kernel::offsets`: the
    // loader rewrites .rodata, the compiler must not fold the placeholder.
    let f: &'static Filter = unsafe { core::ptr::read_volatile(&&FILTER) };
    // SAFETY: a reference is aligned. Said again because the volatile read hid it: knowing it,
    // the compiler compares the MAC and addresses in words, not bytes.
    unsafe {
        core::hint::assert_unchecked(f as *const Filter as usize % align_of::<Filter>() == 0)
    };
    f
}

/// Whether the headers parsed so far into `ev` (one layer: outer or inner) match every enabled
/// criterion.
#[inline(always)]
pub fn matches(f: &Filter, ev: &PacketEvent) -> bool {
    let has = |flag: u16| ev.flags & flag != 0;
    let is_dhcp = has(event_flags::DHCP);
    if f.flags & filter_flags::DHCP != 0 && !is_dhcp {
        return false;
    }
    let learns = f.flags & filter_flags::LEARN_SENDER != 0;
    let mac_ok = f.flags & filter_flags::MAC == 0
        || ev.src_mac == f.mac
        || ev.dst_mac == f.mac
        || (is_dhcp && ev.dhcp_chaddr == f.mac)
        || (learns && sender::matches(ev));
    let addr_ok = f.flags & filter_flags::ADDR == 0 || {
        let family = if f.addr_ipv6 != 0 {
            event_flags::IPV6
        } else {
            event_flags::IPV4
        };
        has(family) && (ev.saddr == f.addr || ev.daddr == f.addr)
    };
    let either = f.flags & filter_flags::MAC_OR_ADDR != 0;
    if !(if either {
        mac_ok || addr_ok
    } else {
        mac_ok && addr_ok
    }) {
        return false;
    }
    if f.flags & filter_flags::VLAN != 0
        && (ev.vlan_source == VlanSource::None as u8
            || ev.vlan_tci & vlan_tci::VID_MASK != f.vlan_id)
    {
        return false;
    }
    if f.flags & filter_flags::PROTO != 0
        && (!has(event_flags::IPV4 | event_flags::IPV6) || ev.ip_proto != f.ip_proto)
    {
        return false;
    }
    if f.flags & filter_flags::PORT != 0 {
        let ports = has(event_flags::L4) && ip_proto::has_ports(ev.ip_proto);
        let sport = u16::from_ne_bytes([ev.l4_head[0], ev.l4_head[1]]);
        let dport = u16::from_ne_bytes([ev.l4_head[2], ev.l4_head[3]]);
        if !ports || (sport != f.port && dport != f.port) {
            return false;
        }
    }
    true
}
