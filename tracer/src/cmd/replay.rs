//! `pathtrace replay FILE`: judge a recorded journey again, with no probes and no privileges.

use anyhow::{Context as _, Result};

use super::conclude::conclude;
use crate::{
    cli::ReplayArgs,
    journey::{mode::expected_path, recording::Recording},
};

pub fn run(args: &ReplayArgs) -> Result<u8> {
    let rec = Recording::read(&args.file)?;
    let expected = expected_path(&rec.before, rec.mac, rec.mode, rec.destination)
        .context("the recorded topology has no path for the recorded MAC")?;
    conclude(rec.inputs(&expected, rec.sightings()?), &args.report, None)
}
