//! Hands the programs a session will attach to the kernel's verifier all at once, one thread
//! each. Verification runs on the loading thread's CPU and was most of a start: under TCG the
//! four Open vSwitch hooks alone took 9-11 s one after the other. A program that fails here
//! stays unloaded, and its attach step loads it again to report why in its own words.

use aya::{
    programs::{Program, ProgramError},
    Btf, Ebpf,
};

/// How one program is loaded.
#[derive(Clone, Copy)]
pub(super) enum LoadAs {
    /// Classifiers, kprobes and classic tracepoints: nothing to resolve.
    Plain,
    /// A BTF tracepoint, resolved against the kernel's BTF to the named event.
    BtfTracePoint(&'static str),
}

fn load(program: &mut Program, how: LoadAs, btf: &Btf) -> Result<(), ProgramError> {
    match (program, how) {
        (Program::BtfTracePoint(p), LoadAs::BtfTracePoint(event)) => p.load(event, btf),
        (Program::SchedClassifier(p), LoadAs::Plain) => p.load(),
        (Program::KProbe(p), LoadAs::Plain) => p.load(),
        (Program::TracePoint(p), LoadAs::Plain) => p.load(),
        // A program of another kind is a build mismatch the attach step names.
        _ => Ok(()),
    }
}

/// Loads every program of `ebpf` named in `wanted` in parallel.
pub(super) fn load_all(ebpf: &mut Ebpf, wanted: &[(&str, LoadAs)], btf: &Btf) {
    let jobs: Vec<(&str, &mut Program, LoadAs)> = ebpf
        .programs_mut()
        .filter_map(|(name, program)| {
            let (_, how) = wanted.iter().find(|(w, _)| *w == name)?;
            Some((name, program, *how))
        })
        .collect();
    std::thread::scope(|scope| {
        let running: Vec<_> = jobs
            .into_iter()
            .map(|(name, program, how)| (name, scope.spawn(move || load(program, how, btf))))
            .collect();
        for (name, thread) in running {
            // A rejected (or panicked) load is retried, and reported, by the attach step.
            if let Ok(Err(e)) = thread.join() {
                tracing::debug!("{name} not loaded in the parallel pass: {e}");
            }
        }
    })
}

/// `Ok` if `result` loaded the program or found it loaded by [`load_all`].
pub(super) fn loaded(result: Result<(), ProgramError>) -> Result<(), ProgramError> {
    match result {
        Err(ProgramError::AlreadyLoaded) => Ok(()),
        other => other,
    }
}
