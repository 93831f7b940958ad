//! `cargo xtask <command>`: setting up a machine, running tests (on the host and in VMs), the
//! demo, benchmarks. Nothing here ships in pathtrace.

mod bench;
mod bench_ab;
mod bench_baseline;
mod bench_capture;
mod bench_first;
mod bench_ovn;
mod bench_signal;
mod bench_startup;
mod demo;
mod eval;
mod fuzz;
mod setup;
mod sh;
mod test;
mod vm;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install everything the build, the tests and the VMs need (idempotent).
    Setup(setup::Options),
    /// Run a command inside a virtme-ng VM with the repository visible at the same path.
    Vm(vm::Options),
    /// Lint, then run unit, host integration and VM tests.
    Test(test::Options),
    /// Seed 004 with real Open vSwitch in a VM: `pathtrace --dhcp` on a healthy exchange, then
    /// on one broken by an OpenFlow drop flow.
    Demo,
    /// The demo's part inside the VM (`cargo xtask demo` runs it there).
    #[command(hide = true)]
    DemoGuest,
    /// Run the whole fault matrix (each fault class at each hop, in the VM) and print its table.
    Eval(eval::Options),
    /// Run every fuzz target (cargo-fuzz, nightly) for a given time; fails on any crash.
    Fuzz(fuzz::Options),
    /// Measure discovery on a generated compute-node-sized host (250 namespaces, 1,000 links).
    Bench(bench::Options),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Setup(o) => setup::run(&o).map(|()| 0),
        Command::Vm(o) => vm::run(&o),
        Command::Test(o) => test::run(&o).map(|()| 0),
        Command::Demo => demo::run(),
        Command::DemoGuest => demo::in_guest(),
        Command::Bench(o) => bench::run(&o).map(|()| 0),
        Command::Fuzz(o) => fuzz::run(&o).map(|()| 0),
        Command::Eval(o) => eval::run(&o).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
