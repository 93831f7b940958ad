//! The clsact qdisc that netlink-attached TC filters need. pathtrace adds one only where none
//! exists, and removes only one it added, and only when no filter (ours or anyone's) is left
//! on it: deleting a qdisc deletes every filter on it.

use anyhow::Result;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::{
    tc::{TcAttribute, TcHandle, TcMessage},
    RouteNetlinkMessage,
};

use crate::netlink::Rtnetlink;

const CLSACT: &str = "clsact";

fn clsact_message(ifindex: u32) -> TcMessage {
    let mut msg = TcMessage::with_index(ifindex as i32);
    msg.header.parent = TcHandle::CLSACT;
    msg.header.handle = TcHandle {
        major: 0xffff,
        minor: 0,
    };
    msg.attributes.push(TcAttribute::Kind(CLSACT.into()));
    msg
}

/// Whether `ifindex` (in the current namespace) has a clsact qdisc.
pub fn exists(nl: &mut Rtnetlink, ifindex: u32) -> Result<bool> {
    let qdiscs = nl.dump(RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default()))?;
    Ok(qdiscs.iter().any(|m| match m {
        RouteNetlinkMessage::NewQueueDiscipline(q) => {
            q.header.index == ifindex as i32
                && q.attributes
                    .iter()
                    .any(|a| matches!(a, TcAttribute::Kind(k) if k == CLSACT))
        }
        _ => false,
    }))
}

/// Makes sure a clsact qdisc exists; returns whether this call created it.
pub fn ensure(ifindex: u32) -> Result<bool> {
    let mut nl = Rtnetlink::open()?;
    if exists(&mut nl, ifindex)? {
        return Ok(false);
    }
    nl.request(
        RouteNetlinkMessage::NewQueueDiscipline(clsact_message(ifindex)),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    Ok(true)
}

/// Number of TC filters on the clsact ingress and egress hooks of `ifindex`.
pub fn filter_count(nl: &mut Rtnetlink, ifindex: u32) -> Result<usize> {
    let mut count = 0;
    for minor in [TcHandle::MIN_INGRESS, TcHandle::MIN_EGRESS] {
        let mut msg = TcMessage::with_index(ifindex as i32);
        msg.header.parent = TcHandle {
            major: 0xffff,
            minor,
        };
        count += nl
            .dump(RouteNetlinkMessage::GetTrafficFilter(msg))?
            .iter()
            .filter(|m| matches!(m, RouteNetlinkMessage::NewTrafficFilter(_)))
            .count();
    }
    Ok(count)
}

/// Removes the clsact qdisc if nothing is attached to it any more.
pub fn remove_if_unused(ifindex: u32) -> Result<()> {
    let mut nl = Rtnetlink::open()?;
    if !exists(&mut nl, ifindex)? {
        return Ok(());
    }
    let filters = filter_count(&mut nl, ifindex)?;
    if filters > 0 {
        tracing::info!(
            "leaving the clsact qdisc on ifindex {ifindex}: {filters} filter(s) added by others use it"
        );
        return Ok(());
    }
    nl.request(
        RouteNetlinkMessage::DelQueueDiscipline(clsact_message(ifindex)),
        0,
    )
}
