//! Check 5: the packet reached a bridge in a VLAN that the access port it should leave by does
//! not carry. Only a port the bridge sends to counts (the bridge comes first on the oriented
//! path): a packet entering through an access port is untagged by design.

use super::cause::Cause;
use crate::{event::Hop, journey::correlate::OrientedHop, path::HopKind};

pub fn mismatch_ahead(last: &Hop, path: &[OrientedHop<'_>], furthest: usize) -> Option<Cause> {
    let seen = last.vlan_id();
    path.iter()
        .enumerate()
        .skip(furthest + 1)
        .find_map(|(i, p)| {
            let port = p.hop.ovs_port.as_ref()?;
            let tag = port.tag?;
            let at = path[..i]
                .iter()
                .position(|b| b.hop.kind == HopKind::OvsBridge && b.hop.name == port.bridge)?;
            // ... a bridge that the packet reached.
            if at > furthest {
                return None;
            }
            (seen != Some(tag) && p.hop.kind == HopKind::Interface).then(|| Cause::VlanMismatch {
                bridge: port.bridge.clone(),
                seen_vlan: seen,
                seen_at: last.ifname.clone(),
                seen_hook: last.hook,
                port: p.hop.name.clone(),
                access_vlan: tag,
            })
        })
}
