//! pathtrace: follow a packet through a virtualised host's datapath. The binary (`main.rs`)
//! only calls [`main`]; the library exists so that the fuzz targets (`fuzz/`) reach the parsers
//! of untrusted input through [`fuzz`].
//!
//! Data flows one way: discovery (`topology`, over `netns`) -> expected path (`path`) -> probes
//! in the kernel (`probes`, with `kernel` facts) -> raw records (`capture`) -> typed hops
//! (`event`) -> journeys and verdicts (`journey`) -> renderers (`output`). The commands (`cmd`,
//! with `cli`) sit on top and wire the stages; no module imports one above it:
//!
//! ```text
//! main, cli -> cmd -> output -> journey -> capture -> probes -> path -> topology
//!                                    \______________\_________\-> event, kernel, netns, netlink, mac
//! ```

#[cfg(test)]
mod architecture_tests;
mod capture;
mod cli;
mod clock;
mod cmd;
mod event;
pub mod fuzz;
mod interrupt;
mod journey;
mod kernel;
mod mac;
mod netlink;
mod netns;
mod output;
mod path;
mod probes;
mod shown;
mod topology;

use std::process::ExitCode;

use clap::Parser as _;

/// Exit status for usage and environment errors (bad input, missing privileges, no BTF).
const EXIT_ERROR: u8 = 2;

/// The command line: parse it, run the command, map the outcome to an exit status.
pub fn main() -> ExitCode {
    clock::mark_start();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PATHTRACE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal, never with NO_COLOR (as the reports).
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .without_time()
        .init();
    if let Err(e) = interrupt::install() {
        eprintln!("pathtrace: error: {e:#}");
        return ExitCode::from(EXIT_ERROR);
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help, --version.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // clap's first line carries the message; the rest is a hint to try --help.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!(
                "pathtrace: {} (see --help)",
                first.trim_start_matches("error: ")
            );
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = match (&cli.command, cli.dhcp) {
        (Some(cli::Command::Trace(args)), _) => match args.mac {
            // Only a MAC: follow it along its expected path, with a verdict.
            Some(mac) if args.interfaces.is_empty() => {
                cmd::journey::run(cmd::journey::Request::from_trace(mac, args))
            }
            _ => cmd::stream::run(args),
        },
        (Some(cli::Command::Topology(args)), _) => cmd::topology::run(args),
        (Some(cli::Command::Path(args)), _) => cmd::path::run(args),
        (Some(cli::Command::Replay(args)), _) => cmd::replay::run(args),
        (None, Some(mac)) => cmd::journey::run(cmd::journey::Request::dhcp(mac, &cli)),
        (None, None) => {
            eprintln!("pathtrace: nothing to do: give --dhcp MAC or a command (see --help)");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // One line: the chain of contexts, outermost first.
            eprintln!("pathtrace: error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
