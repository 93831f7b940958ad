//! The traced MAC's own IP addresses, learned by the probes themselves
//! (`tracer_common::filter_flags::LEARN_SENDER`): past a router a packet no longer carries the
//! MAC, only its sender's address, and without a destination given nobody knows that address
//! beforehand. The hook on the sender's link sees the first packet before any router does, so
//! writing its source address here lets every later hook follow that same packet.
//!
//! A global in `.bss`, not a map: every program reads it at a fixed address, where a map
//! lookup cost each rejected packet of the host a helper call and a null check.

use core::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};

use tracer_common::{event_flags, LearnedSender, PacketEvent};

/// See `tracer_common::SENDER_GLOBAL`: zero until the first address is learned.
#[no_mangle]
static mut SENDER: LearnedSender = LearnedSender {
    v6: [0; 16],
    v4: [0; 4],
};

/// The IPv4 address learned so far (zero: none yet).
#[inline(always)]
pub fn v4() -> [u8; 4] {
    // SAFETY: a plain global of the object; volatile, as other programs write it.
    unsafe { read_volatile(addr_of!(SENDER.v4)) }
}

/// The IPv6 address learned so far (zero: none yet).
#[inline(always)]
pub fn v6() -> [u8; 16] {
    // SAFETY: as in `v4`.
    unsafe { read_volatile(addr_of!(SENDER.v6)) }
}

/// Keeps `ev`'s source address as the sender's, for a family that has none yet: `ev` is an IP
/// packet whose Ethernet source is the traced MAC. Only unicast addresses a router forwards:
/// not the unspecified address of a DHCP client, not IPv6 link-local or multicast.
#[inline(always)]
pub fn learn(ev: &PacketEvent) {
    if ev.flags & event_flags::IPV4 != 0 {
        let a = [ev.saddr[0], ev.saddr[1], ev.saddr[2], ev.saddr[3]];
        if v4() == [0; 4] && a != [0; 4] && a[0] < MULTICAST_V4_FIRST_OCTET {
            // SAFETY: as in `v4`; concurrent learners on other CPUs at worst write another of
            // the MAC's own addresses.
            unsafe { write_volatile(addr_of_mut!(SENDER.v4), a) };
        }
    } else if ev.flags & event_flags::IPV6 != 0 {
        let link_local = ev.saddr[0] == 0xfe && ev.saddr[1] & 0xc0 == 0x80;
        if v6() == [0; 16] && ev.saddr[0] != 0xff && !link_local && ev.saddr != [0; 16] {
            // SAFETY: as above.
            unsafe { write_volatile(addr_of_mut!(SENDER.v6), ev.saddr) };
        }
    }
}

/// Whether `ev`'s source or destination is a learned address of the sender.
#[inline(always)]
pub fn matches(ev: &PacketEvent) -> bool {
    if ev.flags & event_flags::IPV4 != 0 {
        let a = v4();
        a != [0; 4] && (ev.saddr[..4] == a || ev.daddr[..4] == a)
    } else if ev.flags & event_flags::IPV6 != 0 {
        let a = v6();
        a != [0; 16] && (ev.saddr == a || ev.daddr == a)
    } else {
        false
    }
}

/// The first octet of 224.0.0.0/4, where IPv4 multicast (and above it, reserved space) starts.
const MULTICAST_V4_FIRST_OCTET: u8 = 224;
