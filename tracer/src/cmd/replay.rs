//! `pathtrace replay FILE`: judge a recorded journey again, with no probes and no privileges.

use anyhow::{Context as _, Result};

use super::conclude::conclude;
use crate::{cli::ReplayArgs, journey::recording::Recording};

pub fn run(args: &ReplayArgs) -> Result<u8> {
    let rec = Recording::read(&args.file)?;
    let sightings = rec.sightings()?;
    let plan = rec
        .plan(&sightings)
        .context("the recorded topology has no path for the recorded MAC")?;
    conclude(rec.inputs(&plan, sightings), &args.report, None)
}
