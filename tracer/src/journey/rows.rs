//! The rows of a journey: events on the path in path order (each hop's events in time order),
//! invisible hops the packet crossed (patch ports) as inferred rows, then events off the path.

use serde::Serialize;

use super::{
    attribute::Attributed,
    benign::Benign,
    correlate::{OrientedHop, PacketGroup, Progress},
};
use crate::{
    event::{DropReason, HookKind, Ovs, Sighting},
    path::{fmt_vlan, HopKind},
};

/// One row of a packet's journey.
#[derive(Clone, Debug, Serialize)]
pub struct JourneyHop {
    /// 1-based, in path order.
    pub hop: usize,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// interface, linux_bridge, ovs_bridge, ovs_patch, ...
    pub kind: HopKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// The hook that saw it; `inferred` for a hop the kernel cannot see that the packet must
    /// have crossed.
    pub hook: HookKind,
    /// VLAN id as seen here (`None`: untagged).
    pub vlan: Option<u16>,
    /// Microseconds since the packet's first event.
    pub t_us: f64,
    pub len: u32,
    /// Index into the expected path (1-based), `None` for events off the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hop: Option<usize>,
    pub inferred: bool,
    /// What happened here in words: an OVS action, a VLAN rewrite and its flow, a drop reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What the Open vSwitch datapath did here (action, port, pushed VLAN, upcall).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ovs: Option<Ovs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop_reason: Option<DropReason>,
    /// A datapath action or upcall: the bridge whose flow produced it, and that flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributed: Option<Attributed>,
    /// A drop that is not the packet's fate: what kind of copy it dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub benign: Option<Benign>,
}

/// What the journey knows about one sighting beyond the event itself.
#[derive(Clone, Debug, Default)]
pub struct Judged {
    pub attributed: Option<Attributed>,
    pub benign: Option<Benign>,
}

/// The rows of a journey: events on the path in path order (each hop's events in time order),
/// invisible hops the packet crossed as inferred rows, then events off the path.
pub fn rows(
    group: &PacketGroup,
    path: &[OrientedHop<'_>],
    progress: &Progress,
    judged: &[Judged],
) -> Vec<JourneyHop> {
    let t0 = group.sightings[0].hop.t_ns;
    let furthest = progress.furthest;
    let mut placed: Vec<(Option<usize>, &Sighting, &Judged)> = group
        .sightings
        .iter()
        .zip(judged)
        .zip(&progress.places)
        .map(|((s, j), at)| (*at, s, j))
        .collect();
    placed.sort_by_key(|(i, s, _)| (i.unwrap_or(usize::MAX), s.hop.t_ns));
    let mut out = Vec::new();
    let mut events = placed.iter().peekable();
    // What an integration bridge sends out of the port past the logical hops it runs comes
    // after them, at that port.
    let mut sends: Vec<JourneyHop> = Vec::new();
    for (i, p) in path.iter().enumerate() {
        if !p.hop.is_logical() {
            out.append(&mut sends);
        }
        let mut any = false;
        // The port past the logical hops this bridge runs, if they follow it.
        let past_logical = (p.hop.kind == HopKind::OvsBridge
            && path.get(i + 1).is_some_and(|n| n.hop.is_logical()))
        .then(|| path[i + 1..].iter().find(|n| !n.hop.is_logical()))
        .flatten();
        while let Some((Some(at), s, j)) = events.peek() {
            if *at != i {
                break;
            }
            let mut row = event_row(s, j, Some(p), t0);
            match past_logical.filter(|n| {
                s.hop.hook == HookKind::OvsSend
                    && n.hop.netns_ino == Some(s.hop.netns_ino)
                    && n.hop.ifindex == Some(s.hop.ifindex)
            }) {
                Some(n) => {
                    row.path_hop = Some(n.hop.index);
                    sends.push(row);
                }
                None => out.push(row),
            }
            any = true;
            events.next();
        }
        let crossed = furthest.is_some_and(|f| i < f);
        if !any && crossed && !p.hop.kernel_visible && p.hop.kind != HopKind::Vm {
            out.push(JourneyHop {
                hop: 0,
                name: p.hop.name.clone(),
                netns: p.hop.netns.clone(),
                kind: p.hop.kind,
                device: None,
                bridge: p.hop.bridge.clone(),
                hook: HookKind::Inferred,
                vlan: p.hop.vlan,
                t_us: f64::NAN,
                len: 0,
                path_hop: Some(p.hop.index),
                inferred: true,
                detail: p.hop.vlan_rewrite.as_ref().map(|r| {
                    format!(
                        "VLAN {} -> {} by {}",
                        fmt_vlan(r.from),
                        fmt_vlan(r.to),
                        r.flow
                    )
                }),
                ovs: None,
                drop_reason: None,
                attributed: None,
                benign: None,
            });
        }
    }
    out.append(&mut sends);
    for (_, s, j) in events {
        out.push(event_row(s, j, None, t0));
    }
    for (n, row) in out.iter_mut().enumerate() {
        row.hop = n + 1;
        if row.t_us.is_nan() {
            row.t_us = 0.0;
        }
    }
    out
}

fn event_row(s: &Sighting, j: &Judged, p: Option<&OrientedHop<'_>>, t0: u64) -> JourneyHop {
    let h = &s.hop;
    let mut detail = Vec::new();
    if let Some(o) = &h.ovs {
        if let Some(a) = &o.action {
            let mut text = a.to_string();
            if let Some(v) = &o.push_vlan {
                text += &format!(" vid {}", v.vid);
            }
            if let Some(port) = &o.port_name {
                text += &format!(" to {port}");
            }
            detail.push(text);
        } else if let Some(u) = o.upcall {
            detail.push(format!("upcall to ovs-vswitchd ({u})"));
        }
        if let (Some(v), Some(p)) = (&o.push_vlan, p) {
            if let Some(r) = &p.hop.vlan_rewrite {
                if r.to == Some(v.vid) {
                    detail.push(format!("flow: {}", r.flow));
                }
            }
        }
    }
    if let Some(r) = &h.drop_reason {
        detail.push(format!("dropped: {r}"));
    }
    if let Some(d) = &h.dhcp {
        detail.push(format!("DHCP {} xid {}", d.message, d.xid));
    }
    JourneyHop {
        hop: 0,
        name: h.ifname.clone(),
        netns: Some(h.netns.clone()),
        kind: p.map_or(HopKind::Interface, |p| p.hop.kind),
        device: p
            .and_then(|p| p.hop.device)
            .map(|d| format!("{d:?}").to_lowercase()),
        bridge: p.and_then(|p| p.hop.bridge.clone()).or_else(|| {
            p.filter(|p| p.hop.kind == HopKind::OvsBridge)
                .map(|p| p.hop.name.clone())
        }),
        hook: h.hook,
        vlan: h.vlan.as_ref().map(|v| v.id),
        t_us: (h.t_ns - t0) as f64 / 1e3,
        len: h.len,
        path_hop: p.map(|p| p.hop.index),
        inferred: false,
        detail: (!detail.is_empty()).then(|| detail.join("; ")),
        ovs: h.ovs.clone(),
        drop_reason: h.drop_reason.clone(),
        attributed: j.attributed.clone(),
        benign: j.benign,
    }
}
