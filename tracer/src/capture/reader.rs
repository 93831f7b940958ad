//! Reader of the events ring buffer, plus the kernel's lost-event counter. The kernel side
//! never wakes it (see `tracer-ebpf/src/emit.rs`): the session drains it on a short timer.

use super::{decode_record, Record};
use anyhow::{Context as _, Result};
use aya::maps::{MapData, PerCpuArray, RingBuf};

pub struct EventReader {
    ring: RingBuf<MapData>,
    lost: PerCpuArray<MapData, u64>,
    /// Records that did not decode (should stay 0).
    pub malformed: u64,
}

impl EventReader {
    pub fn new(ring: RingBuf<MapData>, lost: PerCpuArray<MapData, u64>) -> Self {
        Self {
            ring,
            lost,
            malformed: 0,
        }
    }

    /// Moves what is in the ring buffer to `out`, without waiting.
    pub fn drain(&mut self, out: &mut Vec<Record>) {
        self.malformed += take_all(&mut self.ring, out);
    }

    /// Events the kernel could not deliver because the ring buffer was full, over all CPUs.
    pub fn lost(&self) -> Result<u64> {
        let per_cpu = self
            .lost
            .get(&0, 0)
            .context("cannot read the lost-event counter")?;
        Ok(per_cpu.iter().sum())
    }
}

/// Moves every record out of the ring into `out`; returns how many did not decode.
fn take_all(ring: &mut RingBuf<MapData>, out: &mut Vec<Record>) -> u64 {
    let mut malformed = 0;
    while let Some(item) = ring.next() {
        match decode_record(&item) {
            Some(ev) => out.push(ev),
            None => malformed += 1,
        }
    }
    malformed
}
