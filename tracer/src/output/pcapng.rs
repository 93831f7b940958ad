//! `--pcap FILE`: pcapng where every hop (interface, namespace and hook) is its own interface
//! block named after it, so Wireshark shows the packet at each hop; frames carry their VLAN
//! tag as it was there (an out-of-band tag is written back into the frame).

use std::{borrow::Cow, collections::HashMap, time::Duration};

use anyhow::Result;
use pcap_file::{
    pcapng::{
        blocks::{
            enhanced_packet::EnhancedPacketBlock,
            interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption},
        },
        PcapNgWriter,
    },
    DataLink,
};

use tracer_common::wire::{header_len, vlan_tci};

use crate::{
    clock,
    event::{Sighting, TagSource},
};

/// Destination and source MAC: where a VLAN tag goes in a frame.
const MACS: usize = 12;

/// Nanosecond timestamps (`if_tsresol` = 10^-9).
const TSRESOL_NS: u8 = 9;

/// The capture as pcapng bytes (the command writes the file).
pub fn render(sightings: &[Sighting]) -> Result<Vec<u8>> {
    let mut w = PcapNgWriter::new(Vec::new())?;
    let offset = realtime_minus_monotonic();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut sorted: Vec<&Sighting> = sightings.iter().collect();
    sorted.sort_by_key(|s| s.ktime_ns);
    for s in sorted {
        if s.snapshot.is_empty() {
            continue;
        }
        let name = format!("{}@{} {}", s.hop.ifname, s.hop.netns, s.hop.hook);
        let next = ids.len() as u32;
        let id = *ids.entry(name.clone()).or_insert_with(|| next);
        if id == next {
            w.write_pcapng_block(InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: 0,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(name)),
                    InterfaceDescriptionOption::IfTsResol(TSRESOL_NS),
                ],
            })?;
        }
        let frame = frame_as_seen(s);
        let accel = usize::from(frame.len() != s.snapshot.len()) * 4;
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: id,
            timestamp: Duration::from_nanos(s.ktime_ns.saturating_add_signed(offset)),
            original_len: (s.hop.len as usize + accel).max(frame.len()) as u32,
            data: Cow::Owned(frame),
            options: Vec::new(),
        })?;
    }
    Ok(w.into_inner())
}

/// The snapshot with an accelerated (out-of-band) VLAN tag put back after the MAC addresses.
fn frame_as_seen(s: &Sighting) -> Vec<u8> {
    match &s.hop.vlan {
        Some(v) if v.source == TagSource::Accelerated && s.snapshot.len() >= MACS => {
            let tci = u16::from(v.pcp) << vlan_tci::PCP_SHIFT | v.id;
            let mut f = Vec::with_capacity(s.snapshot.len() + header_len::VLAN_TAG);
            f.extend_from_slice(&s.snapshot[..MACS]);
            f.extend_from_slice(&v.tpid.to_be_bytes());
            f.extend_from_slice(&tci.to_be_bytes());
            f.extend_from_slice(&s.snapshot[MACS..]);
            f
        }
        _ => s.snapshot.clone(),
    }
}

/// CLOCK_REALTIME - CLOCK_MONOTONIC in ns: kernel event times are monotonic.
fn realtime_minus_monotonic() -> i64 {
    clock::realtime_ns() as i64 - clock::monotonic_ns() as i64
}
