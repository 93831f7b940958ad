//! The kernel's count of events it could not deliver because the ring buffer was full.

use anyhow::{Context as _, Result};
use aya::maps::{MapData, PerCpuArray};

pub struct LostCounter(PerCpuArray<MapData, u64>);

impl LostCounter {
    pub fn new(map: PerCpuArray<MapData, u64>) -> Self {
        Self(map)
    }

    /// Over all CPUs, so far.
    pub fn read(&self) -> Result<u64> {
        let per_cpu = self
            .0
            .get(&0, 0)
            .context("cannot read the lost-event counter")?;
        Ok(per_cpu.iter().sum())
    }
}
