//! Check 5: a VLAN-filtering Linux bridge's port drops the frame ([`bridge_filter_ahead`]), or
//! the packet was switched by an OVS bridge in a VLAN that the access port it should
//! leave by does not carry.
//!
//! The VLAN *inside* a bridge is what counts, and it is named only from evidence about that
//! bridge: a frame seen at one of its access ports is untagged by design (the tag exists only
//! inside the datapath), so there the VLAN is the port's tag; at a trunk port it is the frame's
//! tag; a `push_vlan` the datapath did for the bridge gives it outright. A port ahead on
//! another bridge, reached through patch ports and flows nothing was seen on, is not evidence
//! either way. The same rule holds for a request on its way out and a reply on its way back.

use super::cause::Cause;
use crate::{
    event::{Hop, OvsAction},
    journey::correlate::OrientedHop,
    path::{HopKind, Note, OvsPortInfo},
};

/// A port at or past the furthest hop where a VLAN-filtering Linux bridge drops the frame, as
/// the path predicted from the bridge's VLAN table. The kernel names such a drop only
/// `NOT_SPECIFIED`, so this comes before the drops that say little.
pub fn bridge_filter_ahead(path: &[OrientedHop<'_>], furthest: usize) -> Option<Cause> {
    path.iter().skip(furthest).find_map(|p| {
        p.hop.notes.iter().find_map(|n| match n {
            Note::BridgeVlanFiltered {
                port,
                vlan,
                leaving,
            } => Some(Cause::BridgeVlanFiltered {
                bridge: p.hop.bridge.clone().unwrap_or_else(|| p.hop.name.clone()),
                port: port.clone(),
                vlan: *vlan,
                leaving: *leaving,
            }),
            _ => None,
        })
    })
}

pub fn mismatch_ahead(last: &Hop, path: &[OrientedHop<'_>], furthest: usize) -> Option<Cause> {
    let (bridge, inside) = vlan_inside(last, path, furthest)?;
    path.iter().skip(furthest + 1).find_map(|p| {
        let port = p.hop.ovs_port.as_ref()?;
        let tag = port.tag?;
        (port.bridge == bridge && inside != Some(tag) && p.hop.kind == HopKind::Interface).then(
            || Cause::VlanMismatch {
                bridge: bridge.clone(),
                seen_vlan: inside,
                seen_at: last.ifname.clone(),
                seen_hook: last.hook,
                port: p.hop.name.clone(),
                access_vlan: tag,
            },
        )
    })
}

/// The bridge the last sighting tells about, and the VLAN the packet had inside it.
fn vlan_inside(
    last: &Hop,
    path: &[OrientedHop<'_>],
    furthest: usize,
) -> Option<(String, Option<u16>)> {
    let ovs = last.ovs.as_ref();
    if let Some(push) = ovs.and_then(|o| o.push_vlan.as_ref()) {
        // Sightings of the datapath's actions are placed at the bridge that did them.
        let here = path.get(furthest)?.hop;
        return (here.kind == HopKind::OvsBridge).then(|| (here.name.clone(), Some(push.vid)));
    }
    if let (Some(OvsAction::Output), Some(vid)) =
        (ovs.and_then(|o| o.action.as_ref()), last.vlan_id())
    {
        // A tagged output of the bridge the action is placed at (the bridge of the port it
        // sends to): NORMAL sends a frame tagged only to a trunk, in the VLAN it switches it in.
        let here = path.get(furthest)?.hop;
        if here.kind == HopKind::OvsBridge {
            return Some((here.name.clone(), Some(vid)));
        }
    }
    // The port the frame was seen at: the interface of a TC hook, the vport of a datapath
    // hook (for an action, the one the packet entered the datapath by; the action's own
    // `port_name` is where it sends the packet, not where it was).
    let name = &last.ifname;
    let port = path.iter().find_map(|p| {
        p.hop
            .ovs_port
            .as_ref()
            .filter(|o| o.port == *name || p.hop.name == *name)
    })?;
    Some((port.bridge.clone(), inside_from_port(port, last.vlan_id())))
}

/// An access port's frames are in its VLAN inside the bridge; a trunk's keep their tag.
fn inside_from_port(port: &OvsPortInfo, frame_vlan: Option<u16>) -> Option<u16> {
    match (port.tag, frame_vlan) {
        (Some(tag), None) => Some(tag),
        (_, vlan) => vlan,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{event::HookKind, path::PathHop};

    fn hop(kind: HopKind, name: &str, port: Option<(&str, Option<u16>)>) -> PathHop {
        PathHop {
            index: 0,
            kind,
            name: name.into(),
            netns: None,
            netns_ino: None,
            ifindex: None,
            device: None,
            direction: None,
            bridge: port.map(|(b, _)| b.into()),
            ovs_port: port.map(|(bridge, tag)| OvsPortInfo {
                bridge: bridge.into(),
                port: name.into(),
                ofport: None,
                tag,
                trunks: Vec::new(),
            }),
            vlan: None,
            vlan_rewrite: None,
            logical: None,
            flows: Vec::new(),
            mtu: None,
            oper_state: None,
            kernel_visible: kind != HopKind::OvsBridge,
            notes: Vec::new(),
            bond: None,
            alternatives: Vec::new(),
        }
    }

    fn port(name: &str, bridge: &str, tag: Option<u16>) -> PathHop {
        hop(HopKind::Interface, name, Some((bridge, tag)))
    }

    fn bridge(name: &str) -> PathHop {
        hop(HopKind::OvsBridge, name, None)
    }

    fn oriented(hops: &[PathHop]) -> Vec<OrientedHop<'_>> {
        hops.iter()
            .map(|hop| OrientedHop {
                hop,
                direction: None,
            })
            .collect()
    }

    /// Seen by the datapath at `port`, with `vlan` on the frame: a real `ovs-receive` event of
    /// seed 004 (and a real tagged one's VLAN) with the port and tag changed.
    fn received(port: &str, vlan: Option<u16>) -> Hop {
        let rec = crate::journey::recordings::load("seed004-healthy");
        let sightings = rec.sightings().unwrap();
        let of = |hook: HookKind, tagged: bool| {
            sightings
                .iter()
                .map(|s| &s.hop)
                .find(|h| h.hook == hook && h.vlan.is_some() == tagged)
                .cloned()
                .expect("seed 004 has such an event")
        };
        let mut hop = of(HookKind::OvsReceive, false);
        hop.ifname = port.into();
        hop.ovs.as_mut().unwrap().port_name = Some(port.into());
        hop.vlan = vlan.map(|id| {
            let mut v = of(HookKind::OvsReceive, true).vlan.unwrap();
            v.id = id;
            v
        });
        hop
    }

    /// A server's reply entering br-int untagged through the server's access port (VLAN 1),
    /// on its way to the VM's access port (VLAN 1): the same VLAN inside, no mismatch (the
    /// check used to compare the untagged frame with the VM port's tag and name one).
    #[test]
    fn a_reply_through_an_access_port_of_the_same_vlan_is_no_mismatch() {
        let hops = [
            port("tapdhcp", "br-int", Some(1)),
            bridge("br-int"),
            port("qvo", "br-int", Some(1)),
        ];
        let path = oriented(&hops);
        assert_eq!(mismatch_ahead(&received("tapdhcp", None), &path, 1), None);
    }

    /// A request from the VM's access port (VLAN 2 by mistake) towards a server port in VLAN
    /// 1 on the same bridge: the VLAN inside is the port's, and it is named.
    #[test]
    fn a_request_through_an_access_port_of_another_vlan_is_a_mismatch() {
        let hops = [
            port("qvo", "br-int", Some(2)),
            bridge("br-int"),
            port("tapdhcp", "br-int", Some(1)),
        ];
        let path = oriented(&hops);
        let cause = mismatch_ahead(&received("qvo", None), &path, 1).expect("a mismatch");
        assert!(matches!(
            cause,
            Cause::VlanMismatch {
                seen_vlan: Some(2),
                access_vlan: 1,
                ..
            }
        ));
    }

    /// A frame entering a bridge tagged through a trunk keeps its tag inside: VLAN 1 where the
    /// server's port carries 1000 (seed 004 without its `mod_vlan_vid` flow), in both
    /// directions of the trunk.
    #[test]
    fn a_tagged_frame_on_a_trunk_is_compared_with_its_tag() {
        let hops = [
            port("eth2-net", "br-net", None),
            bridge("br-net"),
            port("tapdhcp", "br-net", Some(1000)),
        ];
        let path = oriented(&hops);
        let cause = mismatch_ahead(&received("eth2-net", Some(1)), &path, 1).expect("a mismatch");
        assert!(matches!(
            cause,
            Cause::VlanMismatch {
                seen_vlan: Some(1),
                access_vlan: 1000,
                ..
            }
        ));
        assert_eq!(
            mismatch_ahead(&received("eth2-net", Some(1000)), &path, 1),
            None
        );
    }

    /// A reply that br-eth2 forwarded untranslated (VLAN 1000) into br-int, seen as the
    /// datapath's tagged output to br-int's own (trunk) port: that is the VLAN inside br-int,
    /// where the VM's port carries 1 (seed 004 without br-int's `mod_vlan_vid:1` flow).
    #[test]
    fn a_tagged_output_tells_the_vlan_inside_the_bridge_it_leaves() {
        let hops = [
            port("eth2", "br-eth2", None),
            bridge("br-eth2"),
            bridge("br-int"),
            port("qvo", "br-int", Some(1)),
        ];
        let path = oriented(&hops);
        let mut output = received("eth2", Some(1000));
        let ovs = output.ovs.as_mut().unwrap();
        ovs.action = Some(OvsAction::Output);
        ovs.port_name = Some("br-int".into());
        let cause = mismatch_ahead(&output, &path, 2).expect("a mismatch");
        assert!(matches!(
            cause,
            Cause::VlanMismatch {
                seen_vlan: Some(1000),
                access_vlan: 1,
                ..
            }
        ));
        // Untagged, it says nothing about the VLAN inside.
        let mut untagged = output.clone();
        untagged.vlan = None;
        assert_eq!(mismatch_ahead(&untagged, &path, 2), None);
    }

    /// What was seen on one bridge says nothing about the VLAN inside another, reached through
    /// patch ports and flows: no cause from it.
    #[test]
    fn another_bridge_is_not_evidence() {
        let hops = [
            port("qvo", "br-int", Some(1)),
            bridge("br-int"),
            hop(HopKind::OvsPatch, "int-br-eth2", Some(("br-int", None))),
            hop(HopKind::OvsPatch, "phy-br-eth2", Some(("br-eth2", None))),
            bridge("br-eth2"),
            port("tapdhcp", "br-eth2", Some(1000)),
        ];
        let path = oriented(&hops);
        assert_eq!(mismatch_ahead(&received("qvo", None), &path, 4), None);
    }
}
