//! `cargo xtask eval`: the whole fault matrix (`pathtrace_testbed::faults`), one fresh topology
//! per cell, and its table: each fault class at each hop kind, right hop and cause, right hop
//! with another cause, wrong hop, or error. Exits 1 below the floor (95% right, no error).
//! `--host`: only the beds the host kernel builds (no Open vSwitch); otherwise every bed, as
//! in the VM. `--only A,B`: only the cells whose "class way hop" contains A or B.
//! `--interrupted`: each run is stopped by SIGINT a few seconds after the exchange failed
//! instead of ending at its timeout. With `$PATHTRACE_RESULTS`, each cell's report and
//! recording are kept there.

use std::{collections::BTreeMap, process::ExitCode};

use pathtrace_testbed::faults::{self, Ending, Outcome};

/// The share of cells that must name the right hop and cause.
const FLOOR: f64 = 0.95;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let mut cells = faults::linux_compute_node();
    if !args.iter().any(|a| a == "--host") {
        cells.extend(faults::seed004());
    }
    // `--only A,B`: the cells whose "class way hop" contains A or B (to look at some again).
    if let Some(only) = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
    {
        let wanted: Vec<String> = only.split(',').map(str::to_lowercase).collect();
        cells.retain(|c| {
            let name = format!("{} {:?} {}", c.class.name(), c.way, c.hop).to_lowercase();
            wanted.iter().any(|w| name.contains(w.as_str()))
        });
    }
    let ending = if args.iter().any(|a| a == "--interrupted") {
        Ending::Interrupted
    } else {
        Ending::Timeout
    };
    eprintln!("each run ends: {ending:?}");
    let mut results = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        eprintln!(
            "[{}/{}] {} on {} ({:?})",
            i + 1,
            cells.len(),
            cell.class.name(),
            cell.hop,
            cell.way
        );
        let (outcome, _) = faults::run(cell, &[ending]).remove(0);
        eprintln!("    {}", outcome.column());
        results.push((cell, outcome));
    }
    println!(
        "\n{:<24} {:<8} {:<8} {:<10} outcome",
        "fault", "way", "hop", "kind"
    );
    for (cell, outcome) in &results {
        let detail = match outcome {
            Outcome::Right => String::new(),
            Outcome::WrongCause(s) | Outcome::WrongHop(s) | Outcome::Error(s) => {
                format!(": {s}")
            }
        };
        println!(
            "{:<24} {:<8} {:<8} {:<10} {}{detail}",
            cell.class.name(),
            format!("{:?}", cell.way).to_lowercase(),
            cell.hop,
            cell.hop_kind,
            outcome.column()
        );
    }
    let mut matrix: BTreeMap<(&str, &str), [usize; 4]> = BTreeMap::new();
    for (cell, outcome) in &results {
        let counts = matrix
            .entry((cell.class.name(), cell.hop_kind))
            .or_default();
        counts[match outcome {
            Outcome::Right => 0,
            Outcome::WrongCause(_) => 1,
            Outcome::WrongHop(_) => 2,
            Outcome::Error(_) => 3,
        }] += 1;
    }
    println!(
        "\n{:<24} {:<8} {:>6} {:>12} {:>6} {:>6}",
        "class", "hop kind", "right", "wrong cause", "wrong hop", "error"
    );
    for ((class, kind), c) in &matrix {
        println!(
            "{class:<24} {kind:<8} {:>6} {:>12} {:>6} {:>6}",
            c[0], c[1], c[2], c[3]
        );
    }
    let right = results.iter().filter(|(_, o)| *o == Outcome::Right).count();
    let errors = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Error(_)))
        .count();
    let share = right as f64 / results.len() as f64;
    println!(
        "\n{right}/{} cells right ({:.0}%), {errors} error(s); floor {:.0}% right and no error",
        results.len(),
        share * 100.0,
        FLOOR * 100.0
    );
    if share >= FLOOR && errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
