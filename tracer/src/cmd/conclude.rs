//! From what was seen to the printed verdict and the exit status; the same for a live journey
//! and a replay.

use std::{io::IsTerminal as _, path::Path};

use anyhow::{Context as _, Result};

use super::{stdout, EXIT_NOT_DELIVERED};
use crate::{
    journey::{
        report::{self, Inputs},
        verdict::Outcome,
    },
    output,
};

pub fn conclude(inputs: Inputs<'_>, json: bool, pcap: Option<&Path>) -> Result<u8> {
    if let Some(file) = pcap {
        output::pcapng::write(file, &inputs.sightings)
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    let expected = inputs.path;
    let report = report::build(inputs);
    let text = if json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        output::journey_text::render(&report, expected, std::io::stdout().is_terminal())
    };
    stdout::write(&text)?;
    Ok(match report.verdict {
        Outcome::Delivered => 0,
        _ => EXIT_NOT_DELIVERED,
    })
}
