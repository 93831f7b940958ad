//! A journey on disk: every hop pathtrace saw (with the packet bytes) and the topology before
//! and after the capture. `pathtrace replay FILE` judges it again on another machine, or after
//! an upgrade of pathtrace; the correlation tests run on recordings of real runs.

use std::{io::Read as _, path::Path};

use anyhow::{ensure, Context as _, Result};
use serde::{Deserialize, Serialize};

use super::{
    after_capture::AfterCapture,
    mode::{plan, Mode, Plan},
    report::Inputs,
};
use crate::{
    event::{hex, unhex, HookStatus, Hop, Sighting, Vanished},
    mac::Mac,
    path::Destination,
    topology::Topology,
};

const KIND: &str = "pathtrace-recording";
/// Bumped when a field changes meaning; readers refuse other versions.
const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Recording {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u32,
    pub mac: Mac,
    pub mode: Mode,
    /// Where the packets were going (absent for DHCP and in older recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    pub lost_events: u64,
    /// Of `lost_events`, runs of the probes the kernel skipped (absent in older recordings).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missed_runs: u64,
    /// Traced interfaces that went away during the capture (absent in older recordings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vanished: Vec<Vanished>,
    pub hooks: Vec<HookStatus>,
    /// What discovery found before the probes were attached; the expected path is computed
    /// from it again on replay.
    pub before: Topology,
    /// Rediscovered after the capture (flow counters, link states, servers that died); when
    /// that was not done (`after_capture`), `before` again.
    pub after: Topology,
    /// Whether `after` was read (absent: it was, as in older recordings).
    #[serde(default, skip_serializing_if = "AfterCapture::was_read")]
    pub after_capture: AfterCapture,
    pub sightings: Vec<RecordedSighting>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RecordedSighting {
    /// Kernel timestamp (CLOCK_MONOTONIC), as in pcapng.
    pub ktime_ns: u64,
    /// The hop, its `snapshot` holding the captured bytes as hex.
    pub hop: Hop,
}

impl Recording {
    /// What a live run's judgement was made of.
    pub fn of(inputs: &Inputs<'_>) -> Self {
        Self {
            kind: KIND.into(),
            version: VERSION,
            mac: inputs.mac,
            mode: inputs.mode,
            destination: inputs.destination,
            lost_events: inputs.lost_events,
            missed_runs: inputs.missed_runs,
            vanished: inputs.vanished.clone(),
            hooks: inputs.hooks.clone(),
            before: inputs.before.clone(),
            after: inputs.after.clone(),
            after_capture: inputs.after_capture,
            sightings: inputs
                .sightings
                .iter()
                .map(|s| {
                    let mut hop = s.hop.clone();
                    hop.snapshot = Some(hex(&s.snapshot));
                    RecordedSighting {
                        ktime_ns: s.ktime_ns,
                        hop,
                    }
                })
                .collect(),
        }
    }

    /// The recording as one JSON document (the command writes the file).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)? + "\n")
    }

    pub fn read(file: &Path) -> Result<Self> {
        let text = read_bounded(file).with_context(|| format!("cannot read {}", file.display()))?;
        Self::parse(&text)
            .with_context(|| format!("{} is not a pathtrace recording", file.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let rec: Self = serde_json::from_str(text)?;
        ensure!(rec.kind == KIND, "type is {:?}, not {KIND:?}", rec.kind);
        ensure!(
            rec.version == VERSION,
            "version {} (this pathtrace reads version {VERSION})",
            rec.version
        );
        Ok(rec)
    }

    /// What the live run judged, around `plan` (made from [`Self::before`] by
    /// [`Self::plan`]) and `sightings` (from [`Self::sightings`]).
    pub fn inputs<'a>(&'a self, plan: &'a Plan, sightings: Vec<Sighting>) -> Inputs<'a> {
        Inputs {
            mac: self.mac,
            mode: self.mode,
            destination: self.destination,
            path: &plan.path,
            unplaced: plan.unplaced,
            before: &self.before,
            after: &self.after,
            sightings,
            lost_events: self.lost_events,
            missed_runs: self.missed_runs,
            vanished: self.vanished.clone(),
            hooks: self.hooks.clone(),
            timings: None,
            after_capture: self.after_capture,
        }
    }

    /// The path the live run was judged against, made again from [`Self::before`].
    pub fn plan(&self, sightings: &[Sighting]) -> Result<Plan> {
        plan(
            &self.before,
            self.mac,
            self.mode,
            self.destination,
            sightings,
        )
    }

    /// The sightings as the live run had them (bytes apart from the hop).
    pub fn sightings(&self) -> Result<Vec<Sighting>> {
        self.sightings
            .iter()
            .map(|s| {
                let mut hop = s.hop.clone();
                let snapshot = hop
                    .snapshot
                    .take()
                    .map(|h| unhex(&h))
                    .transpose()
                    .with_context(|| format!("bad snapshot at {} {}", hop.ifname, hop.hook))?
                    .unwrap_or_default();
                Ok(Sighting {
                    hop,
                    ktime_ns: s.ktime_ns,
                    snapshot,
                })
            })
            .collect()
    }
}

/// The largest recording `replay` reads: what pathtrace keeps of one run is bounded far below
/// it (see `event::Sightings`), and a file this large is not one of its recordings.
const MAX_RECORDING_BYTES: u64 = 1 << 30;

fn read_bounded(file: &Path) -> Result<String> {
    let meta = std::fs::metadata(file)?;
    ensure!(meta.is_file(), "not a regular file");
    ensure!(
        meta.len() <= MAX_RECORDING_BYTES,
        "larger than {MAX_RECORDING_BYTES} bytes"
    );
    let mut text = String::new();
    std::fs::File::open(file)?
        .take(MAX_RECORDING_BYTES + 1)
        .read_to_string(&mut text)?;
    ensure!(
        text.len() as u64 <= MAX_RECORDING_BYTES,
        "larger than {MAX_RECORDING_BYTES} bytes"
    );
    Ok(text)
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_or_special_files_are_refused_before_reading() {
        let dir = std::env::temp_dir().join(format!("pt-recording-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.json");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_RECORDING_BYTES + 1)
            .unwrap();
        let err = format!("{:#}", Recording::read(&big).unwrap_err());
        assert!(err.contains("larger than"), "{err}");
        let err = format!("{:#}", Recording::read(&dir).unwrap_err());
        assert!(err.contains("not a regular file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn other_documents_are_refused() {
        let err = Recording::parse(r#"{"type":"journey"}"#).unwrap_err();
        assert!(format!("{err:#}").contains("missing field"), "{err:#}");
    }
}
