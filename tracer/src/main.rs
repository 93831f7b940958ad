//! pathtrace: follow a packet through a virtualised host's datapath.
//!
//! Data flows one way: discovery (`topology`, over `netns`) -> expected path (`path`) -> probes
//! in the kernel (`probes`, with `kernel` facts) -> raw events (`capture`) -> named hops
//! (`journey`) -> renderers (`output`).

mod capture;
mod cli;
mod follow;
mod journey;
mod kernel;
mod mac;
mod netlink;
mod netns;
mod output;
mod path;
mod probes;
mod show;
mod topology;
mod trace;

use std::process::ExitCode;

use clap::Parser as _;

/// Exit status for usage and environment errors (bad input, missing privileges, no BTF).
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PATHTRACE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
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
    let result = match (cli.command, cli.dhcp) {
        (Some(cli::Command::Trace(args)), _) => trace::run(args),
        (Some(cli::Command::Topology(args)), _) => show::topology(args).map(|()| 0),
        (Some(cli::Command::Path(args)), _) => show::path(args).map(|()| 0),
        (Some(cli::Command::Replay(args)), _) => follow::replay(&args),
        (None, Some(mac)) => follow::run(follow::Request {
            timeout: cli.timeout,
            count: cli.count,
            ..follow::Request::dhcp(mac, &cli.journey)
        }),
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
