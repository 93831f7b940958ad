//! First of all: an OVN integration bridge at or past the furthest hop whose logical network drops
//! the packet before any flow counts it: the VIF's `iface-id` names no logical port (or one
//! bound elsewhere), the port is disabled, its `port_security` does not allow the MAC, or (on
//! the way to ovn-controller's native DHCP) it has no DHCPv4 options; or a logical router on the
//! way that is disabled, has a disabled port on the way, or no route to the destination; or a
//! destination whose logical port is bound on no chassis, or on one no tunnel leads to.
//! The logical network names the cause more exactly than whatever the datapath then reports.
//! Last of all: a DHCP request a datapath meter dropped is named by its switch's CoPP meter.

use super::cause::{Cause, OvnCause};
use crate::{
    journey::correlate::{OrientedHop, PacketGroup},
    path::HopKind,
    shown::shown,
    topology::{
        ovn::{Acl, COPP_DHCPV4},
        Topology,
    },
};

/// The oriented index of the integration bridge that drops the packet, and the cause.
pub fn block_ahead(path: &[OrientedHop<'_>], furthest: usize) -> Option<(usize, Cause)> {
    path.iter()
        .enumerate()
        .skip(furthest)
        .filter(|(_, p)| {
            matches!(
                p.hop.kind,
                HopKind::OvsBridge | HopKind::LogicalRouter | HopKind::LogicalSwitch
            )
        })
        .find_map(|(i, p)| {
            let bridge = match p.hop.kind {
                HopKind::OvsBridge => p.hop.name.clone(),
                _ => p.hop.bridge.clone().unwrap_or_default(),
            };
            p.hop
                .notes
                .iter()
                .find_map(|n| OvnCause::from_note(n, &bridge))
                .map(|c| (i, Cause::Ovn(c)))
        })
}

/// An OpenFlow drop on an OVN integration bridge, in OVN's words: the logical flow its cookie
/// comes from and the ACL its stage-hint names. Any other cause is returned as it is.
pub fn name_openflow_drop(cause: Cause, topo: &Topology) -> Cause {
    let Cause::OpenflowDrop { bridge, flow, .. } = &cause else {
        return cause;
    };
    let Some(ovn) = topo
        .ovn
        .as_ref()
        .filter(|o| &o.integration_bridge == bridge)
    else {
        return cause;
    };
    let cookie = topo
        .ovs_bridges
        .iter()
        .filter(|b| &b.name == bridge)
        .flat_map(|b| &b.flows)
        .find(|f| f.text.trim() == flow)
        .map(|f| f.cookie.as_str());
    let Some(lflow) = cookie.and_then(|c| ovn.drop_flow(c)) else {
        return cause;
    };
    let acl = lflow
        .hint
        .as_deref()
        .and_then(|h| ovn.acl_hinted(h))
        .map(|a| Acl {
            matches: shown(&a.matches),
            action: shown(&a.action),
            direction: shown(&a.direction),
            name: a.name.as_deref().map(shown),
            port_group: a.port_group.as_deref().map(shown),
            ..a.clone()
        });
    Cause::Ovn(OvnCause::LogicalDrop {
        bridge: bridge.clone(),
        stage: lflow.stage.as_deref().map(shown),
        pipeline: shown(&lflow.pipeline),
        table: lflow.table,
        priority: lflow.priority,
        matches: shown(&lflow.matches),
        actions: shown(&lflow.actions),
        acl: acl.map(Box::new),
        flow: flow.clone(),
    })
}

/// A DHCP request dropped by a datapath meter on its way to ovn-controller, in OVN's words: the
/// CoPP meter of the client's logical switch. Any other cause is returned as it is.
pub fn name_meter_drop(
    cause: Cause,
    group: &PacketGroup,
    path: &[OrientedHop<'_>],
    topo: &Topology,
) -> Cause {
    let Cause::KernelDrop {
        reason: Some(reason),
        ..
    } = &cause
    else {
        return cause;
    };
    let dhcp = group.sightings.iter().any(|s| s.hop.dhcp.is_some());
    let Some(ovn) = topo
        .ovn
        .as_ref()
        .filter(|_| reason.0 == super::kernel_drop::OVS_DROP_METER && dhcp)
    else {
        return cause;
    };
    let client_switch = path.iter().find_map(|p| {
        (p.hop.kind == HopKind::OvsBridge && p.hop.name == ovn.integration_bridge)
            .then_some(p.hop.logical.as_ref())
            .flatten()
    });
    let meter = client_switch.and_then(|l| {
        ovn.switches
            .iter()
            .find(|s| shown(&s.name) == l.datapath)?
            .copp
            .iter()
            .find(|m| m.protocol == COPP_DHCPV4)
            .map(|m| (l.datapath.clone(), m))
    });
    match meter {
        Some((switch, m)) => Cause::Ovn(OvnCause::CoppMeter {
            switch,
            meter: shown(&m.meter),
            rate: m.rate,
            unit: shown(&m.unit),
            burst: m.burst,
            bridge: ovn.integration_bridge.clone(),
        }),
        None => cause,
    }
}
