//! Where a MAC's packets go, learned from the first one: `trace --mac MAC` without `--dst`.
//! Only the packet says where it is going (a VM's routes are not the host's), so a short
//! capture on the sender's own link (the VM's tap, a pod's interface) waits for its first IP
//! packet and reads its destination address and MAC; the path is then computed to there and
//! the journey traces the packets after it. The learning packet itself is not judged: it was
//! only watched at its first link.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use crate::{
    capture::session::{Control, OvsHooks, Session, SessionOptions},
    event::Hop,
    mac::Mac,
    netns::NetnsTable,
    path::{self, Destination},
    probes::{FilterSpec, Interface},
    topology::Topology,
};

/// Why the learning session has no Open vSwitch hooks: it watches the sender's link only.
pub const LEARN_ONLY: &str = "not needed to learn where the packets go";

/// What the first packet said, and how long it took to come.
pub struct Learned {
    pub destination: Option<Destination>,
    pub waited: Duration,
}

/// Watches `mac`'s first link until an IP packet from `mac` passes, `timeout` ends or a
/// signal comes. `None`: no such packet came (an ARP that never resolved, nothing sent).
/// `session` says how to capture (its interfaces are replaced by the first link; no drop or
/// OVS hooks: only the sender's link is watched).
pub fn first_destination(
    mac: Mac,
    session: SessionOptions<'_>,
    (topo, table): (&Topology, &NetnsTable),
    timeout: Duration,
) -> Result<Learned> {
    let started = Instant::now();
    let first = path::first_link(topo, mac)?;
    let iface = topo
        .interface(first)
        .context("the sender's link vanished")?;
    let netns = table
        .get(first.netns)
        .cloned()
        .with_context(|| format!("namespace of {} vanished", iface.name))?;
    let mut session = Session::start(
        SessionOptions {
            interfaces: vec![Interface {
                netns,
                name: iface.name.clone(),
                ifindex: first.ifindex,
            }],
            filter: FilterSpec {
                drops: false,
                ..session.filter
            },
            drops: None,
            ovs: OvsHooks::Skip(LEARN_ONLY),
            ..session
        },
        // The session keeps a copy: the journey's is needed after this one is gone.
        table.clone(),
    )?;
    eprintln!(
        "pathtrace: no --dst: waiting at {} for the first IP packet from {} to learn where it goes",
        crate::topology::sources::untrusted::shown(&iface.name),
        mac
    );
    let mut found: Option<Destination> = None;
    let pumped = session.pump(
        Some(timeout),
        Duration::from_secs(1),
        |batch, names| {
            for rec in batch.drain(..) {
                let hop = Hop::decode(&rec.event, None, names);
                if let Some(d) = destination_of(&hop, mac) {
                    found = Some(d);
                    return Control::Stop;
                }
            }
            Control::Continue
        },
        |_| {},
    );
    if let Err(e) = session.finish() {
        eprintln!("pathtrace: warning: cleanup: {e:#}");
    }
    pumped?;
    if let Some(d) = &found {
        let mac = d.mac.map_or(String::new(), |m| format!(" (next hop {m})"));
        eprintln!(
            "pathtrace: its packets go to {}{mac}; tracing the next ones",
            d.ip
        );
    }
    Ok(Learned {
        destination: found,
        waited: started.elapsed(),
    })
}

/// The destination of an IP packet sent by `mac`; broadcasts and multicasts name no next hop.
fn destination_of(hop: &Hop, mac: Mac) -> Option<Destination> {
    if hop.src_mac != mac {
        return None;
    }
    let ip = hop.ip.as_ref()?;
    let unicast = hop.dst_mac.0[0] & 1 == 0;
    Some(Destination {
        ip: ip.dst,
        mac: unicast.then_some(hop.dst_mac),
    })
}
