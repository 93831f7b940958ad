//! Async reader over the events ring buffer, plus the kernel's lost-event counter.

use super::{decode_record, Record};
use anyhow::{Context as _, Result};
use aya::maps::{MapData, PerCpuArray, RingBuf};
use tokio::io::{unix::AsyncFd, Interest};

pub struct EventReader {
    ring: AsyncFd<RingBuf<MapData>>,
    lost: PerCpuArray<MapData, u64>,
    /// Records that did not decode (should stay 0).
    pub malformed: u64,
}

impl EventReader {
    pub fn new(ring: RingBuf<MapData>, lost: PerCpuArray<MapData, u64>) -> Result<Self> {
        Ok(Self {
            // SAFETY: the ring buffer owns its fd and AsyncFd owns the ring buffer, so the fd
            // stays open for as long as it is registered. Must run inside the tokio runtime.
            ring: unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
                .map_err(|e| anyhow::anyhow!("cannot poll the events ring buffer: {e}"))?,
            lost,
            malformed: 0,
        })
    }

    /// Waits until events are available and appends all of them to `out`.
    pub async fn read(&mut self, out: &mut Vec<Record>) -> Result<()> {
        let mut guard = self.ring.readable_mut().await?;
        self.malformed += take_all(guard.get_inner_mut(), out);
        guard.clear_ready();
        Ok(())
    }

    /// Drains what is already in the ring buffer without waiting.
    pub fn drain(&mut self, out: &mut Vec<Record>) {
        self.malformed += take_all(self.ring.get_mut(), out);
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
