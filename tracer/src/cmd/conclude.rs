//! From what was seen to the printed verdict, the files asked for, and the exit status; the same
//! for a live journey and a replay. The report is printed first, so that a file that cannot be
//! written costs the file, not the verdict; every file is written private and without following
//! a link (see [`files`]).

use std::{
    io::Write as _,
    path::Path,
    process::{Command, Stdio},
};

use anyhow::{bail, Context as _, Result};

use super::{files, stdout, terminal, EXIT_NOT_DELIVERED};
use crate::{
    cli::ReportArgs,
    journey::{
        report::{self, Inputs},
        verdict::Outcome,
    },
    output::{self, journey_view::Style},
};

/// Exit status when the verdict was printed but a file asked for could not be written.
const EXIT_OUTPUT_FAILED: u8 = 2;

/// `recording`: the file to write the run's recording to, and the recording (a live run with
/// `--record`).
pub fn conclude(
    inputs: Inputs<'_>,
    args: &ReportArgs,
    recording: Option<(&Path, String)>,
) -> Result<u8> {
    // Rendered before the report consumes the sightings; written after it is printed.
    let pcap = args
        .pcap
        .as_ref()
        .map(|file| (file, output::pcapng::render(&inputs.sightings)));
    let expected = inputs.path;
    let topology = inputs.before;
    let report = report::build(inputs);
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else if args.verbose {
        output::journey_text::render(&report, expected, terminal::colour())
    } else {
        let style = Style {
            colour: terminal::colour(),
            width: terminal::width(),
        };
        output::journey_view::render(&report, expected, style)
    };
    stdout::write(&text)?;
    let mut failed = false;
    let mut written = |what: Result<()>| {
        if let Err(e) = what {
            eprintln!("pathtrace: error: {e:#}");
            failed = true;
        }
    };
    if let Some((file, bytes)) = pcap {
        written(bytes.and_then(|b| files::write_private(file, &b)));
    }
    if let Some((file, json)) = recording {
        written(files::write_private(file, json.as_bytes()));
    }
    if args.svg.is_some() || args.dot.is_some() {
        let dot = output::journey_dot::render(&report, expected, topology);
        written(write_drawing(
            &dot,
            args.dot.as_deref(),
            args.svg.as_deref(),
        ));
    }
    Ok(match report.verdict {
        _ if failed => EXIT_OUTPUT_FAILED,
        Outcome::Delivered => 0,
        _ => EXIT_NOT_DELIVERED,
    })
}

fn write_drawing(dot: &str, dot_file: Option<&Path>, svg_file: Option<&Path>) -> Result<()> {
    if let Some(file) = dot_file {
        files::write_private(file, dot.as_bytes())?;
    }
    if let Some(file) = svg_file {
        let svg = render_svg(dot).with_context(|| {
            format!(
                "cannot draw {} (--dot FILE writes the source)",
                file.display()
            )
        })?;
        files::write_private(file, &svg)?;
    }
    Ok(())
}

/// Graphviz's `dot -Tsvg`, DOT on its input.
fn render_svg(dot: &str) -> Result<Vec<u8>> {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("graphviz's dot is not installed (apt install graphviz)")?;
    let mut stdin = child.stdin.take().context("no stdin for dot")?;
    stdin.write_all(dot.as_bytes()).context("cannot feed dot")?;
    drop(stdin);
    let out = child.wait_with_output().context("dot did not finish")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("dot failed: {}", err.lines().next().unwrap_or("no message"));
    }
    Ok(out.stdout)
}
