//! Checks 3 and 4, on the interfaces ahead of the furthest sighting, as they are after the
//! trace: a link that is down or gone, and a frame larger than the next MTU allows.

use tracer_common::wire::header_len;

use super::{cause::Cause, Evidence};
use crate::{
    event::{Hop, Vanished},
    journey::correlate::OrientedHop,
    path::HopKind,
    topology::{Interface, OperState, Topology},
};

/// The first interface ahead that is down (or gone).
pub fn down_ahead(path: &[OrientedHop<'_>], furthest: usize, ev: &Evidence<'_>) -> Option<Cause> {
    path.iter()
        .skip(furthest + 1)
        .find_map(|p| link_down(ev.after, ev.vanished, p))
}

/// The next interface ahead, when the last frame seen does not fit its MTU.
pub fn mtu_ahead(
    last: &Hop,
    path: &[OrientedHop<'_>],
    furthest: usize,
    ev: &Evidence<'_>,
) -> Option<Cause> {
    let len = last.wire_len();
    let p = path
        .iter()
        .skip(furthest + 1)
        .find(|p| p.hop.kind == HopKind::Interface)?;
    let mtu = iface_now(ev.after, p).map(|i| i.mtu).or(p.hop.mtu)?;
    let tag = if last.vlan.is_some() {
        header_len::VLAN_TAG as u32
    } else {
        0
    };
    let largest_frame = mtu + header_len::ETHERNET as u32 + tag;
    (len > largest_frame).then(|| Cause::Mtu {
        frame_len: len,
        ifname: p.hop.name.clone(),
        mtu,
        largest_frame,
    })
}

fn iface_now<'a>(t: &'a Topology, p: &OrientedHop<'_>) -> Option<&'a Interface> {
    let (ns, ifindex) = (p.hop.netns_ino?, p.hop.ifindex?);
    t.interfaces
        .iter()
        .find(|i| i.key.netns == ns && i.key.ifindex == ifindex)
}

fn link_down(t: &Topology, vanished: &[Vanished], p: &OrientedHop<'_>) -> Option<Cause> {
    if p.hop.kind != HopKind::Interface {
        return None;
    }
    let Some(i) = iface_now(t, p) else {
        return Some(Cause::LinkGone {
            ifname: p.hop.name.clone(),
            vanished: vanished
                .iter()
                .find(|v| Some(v.netns_ino) == p.hop.netns_ino && Some(v.ifindex) == p.hop.ifindex)
                .cloned(),
        });
    };
    if i.admin_up && i.oper_state.passes() {
        return None;
    }
    let down_peer = i
        .link
        .and_then(|k| t.interface(k))
        .filter(|peer| !peer.admin_up || peer.oper_state == OperState::Down)
        .map(|peer| peer.name.clone());
    Some(Cause::LinkDown {
        ifname: i.name.clone(),
        oper_state: i.oper_state,
        admin_up: i.admin_up,
        down_peer,
    })
}
