//! Parse, then filter: the decision every hook makes about a packet. A tunnelled packet is
//! parsed twice into one event, outer headers first, and matches if either layer does.

use tracer_common::{event_flags, filter_flags, Filter, PacketEvent};

use crate::{filter, parse, sender};

/// Where the parsable bytes start.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the Ethernet header.
    L2,
    /// At the network header; `ev.ether_type` is already set (a packet without MAC header).
    L3,
}

/// Fills `ev` from the packet and returns whether it matches `f`. The fingerprint is left to
/// userspace: every field it hashes is in the event, and the mix cost a matching packet ~26 ns
/// here (`cargo xtask bench --only ab`).
#[inline(always)]
pub fn classify<B: parse::PacketBytes>(
    b: &B,
    ev: &mut PacketEvent,
    f: &Filter,
    start: Start,
) -> bool {
    let encap = match start {
        Start::L2 => parse::parse_l2(b, ev, 0, true).and_then(|l3| parse::parse_l3(b, ev, l3)),
        Start::L3 => parse::parse_l3(b, ev, 0),
    };
    let outer = filter::matches(f, ev);
    let matched = match encap {
        None => outer,
        Some(encap) => {
            parse::enter_tunnel(ev, &encap);
            if let Some(l3) = parse::parse_l2(b, ev, encap.inner, false) {
                // A tunnel inside a tunnel is not followed further.
                let _ = parse::parse_l3(b, ev, l3);
            }
            let inner = filter::matches(f, ev);
            if outer && !inner {
                ev.flags |= event_flags::OUTER_MATCH;
            }
            outer || inner
        }
    };
    // Learned once per packet, from the layer that carries the MAC (the inner frame of a
    // tunnel, when the MAC is inside): for the hooks it reaches next, not for this one, where
    // the MAC already matched.
    if matched
        && f.flags & filter_flags::LEARN_SENDER != 0
        && ev.src_mac == f.mac
        && ev.flags & (event_flags::IPV4 | event_flags::IPV6) != 0
    {
        sender::learn(ev);
    }
    matched
}
