//! SIGINT, SIGTERM and SIGHUP at any moment, without leaving anything in the kernel. Until the
//! first kernel change ([`arm`]) a signal ends the process at once: there is nothing to undo,
//! and a discovery stuck on a wedged daemon must still yield to Ctrl-C. From then on a signal
//! only sets a flag that the attach loops, the capture loop and the steps after it check: the
//! guards detach what was attached, and the report of what was seen is still printed. A
//! standard output nobody reads any more (`| head` gone, a closed terminal) asks the same as a
//! first signal. A second signal asks for the report at once: the evidence collected after the
//! capture is skipped ([`await_unless_skipped`]). A leaf: imports nothing of pathtrace.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering},
        mpsc::{Receiver, RecvTimeoutError},
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Result};

static ARMED: AtomicBool = AtomicBool::new(false);
/// The first signal received since [`arm`], or [`OUTPUT_CLOSED`].
static FIRST: AtomicI32 = AtomicI32::new(0);
/// How many signals came since [`arm`].
static COUNT: AtomicU32 = AtomicU32::new(0);

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
/// The shell's convention for "ended by signal N".
const EXIT_BY_SIGNAL: libc::c_int = 128;
/// In [`FIRST`]: no signal, standard output was found closed. No signal has this number.
const OUTPUT_CLOSED: libc::c_int = -1;

/// Why a run was asked to stop before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Signal(libc::c_int),
    /// Nobody reads standard output any more.
    OutputClosed,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Signal(sig) => f.write_str(name(*sig)),
            Self::OutputClosed => f.write_str("its output closing"),
        }
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    if ARMED.load(Ordering::SeqCst) {
        let _ = FIRST.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
        COUNT.fetch_add(1, Ordering::SeqCst);
        return;
    }
    const MSG: &[u8] = b"\npathtrace: interrupted\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(libc::STDERR_FILENO, MSG.as_ptr().cast(), MSG.len());
        libc::_exit(EXIT_BY_SIGNAL + sig);
    }
}

/// Installs the handlers; first thing in `main`.
pub fn install() -> Result<()> {
    for sig in SIGNALS {
        // SAFETY: a zeroed sigaction with a plain handler and an empty mask is valid; the
        // handler only touches atomics and async-signal-safe calls.
        let rc = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut())
        };
        if rc != 0 {
            bail!(
                "cannot handle signal {sig}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// From now on the kernel holds something of ours: signals are noted, not fatal.
pub fn arm() {
    ARMED.store(true, Ordering::SeqCst);
}

/// What asked the run to stop since [`arm`], if anything did.
pub fn requested() -> Option<Stop> {
    match FIRST.load(Ordering::SeqCst) {
        0 => None,
        OUTPUT_CLOSED => Some(Stop::OutputClosed),
        sig => Some(Stop::Signal(sig)),
    }
}

/// A second signal came: the report now, on what there is.
pub fn repeated() -> bool {
    let closed = i32::from(FIRST.load(Ordering::SeqCst) == OUTPUT_CLOSED);
    COUNT.load(Ordering::SeqCst) + closed as u32 >= 2
}

/// Notes that standard output has no reader any more, if so: it asks what a first signal does.
/// A pipe whose reader went away polls as an error, a terminal that hung up as a hang-up; a
/// file or `/dev/null` never does.
pub fn check_output() {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    if n == 1 && fd.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
        let _ = FIRST.compare_exchange(0, OUTPUT_CLOSED, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// An error once a stop was asked: what is being set up is abandoned (and its guards detach
/// it).
pub fn check() -> Result<()> {
    match requested() {
        Some(stop) => bail!("interrupted by {stop} while attaching"),
        None => Ok(()),
    }
}

/// Why [`await_unless_skipped`] gave up waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// A second signal asked for the report at once.
    Repeated,
    /// The deadline after a stop passed.
    Deadline,
    /// The worker ended without an answer.
    WorkerGone,
}

/// Waits for `answer` while nothing asked to stop; once something did (before or during the
/// wait), for at most `deadline` more, and not past a second signal. `on_stop` runs once, when
/// the wait becomes bounded, to say so.
pub fn await_unless_skipped<T>(
    answer: &Receiver<T>,
    deadline: Duration,
    mut on_stop: impl FnMut(Stop),
) -> std::result::Result<T, Skipped> {
    const STEP: Duration = Duration::from_millis(20);
    let mut bounded: Option<Instant> = None;
    loop {
        if repeated() {
            return Err(Skipped::Repeated);
        }
        if bounded.is_none() {
            if let Some(stop) = requested() {
                on_stop(stop);
                bounded = Some(Instant::now() + deadline);
            }
        }
        if bounded.is_some_and(|d| Instant::now() >= d) {
            return Err(Skipped::Deadline);
        }
        match answer.recv_timeout(STEP) {
            Ok(v) => return Ok(v),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Err(Skipped::WorkerGone),
        }
    }
}

fn name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statics are the process's: this one test walks through every case in turn and
    /// leaves them as they were (no other unit test reads them).
    #[test]
    fn the_wait_after_a_stop_is_bounded_and_a_second_signal_ends_it() {
        let (tx, rx) = mpsc_pair();
        // Nothing asked to stop: the answer is waited for.
        tx.send(7).unwrap();
        assert_eq!(
            await_unless_skipped(&rx, Duration::ZERO, |_| panic!()),
            Ok(7)
        );
        // A first signal: bounded, and said once.
        FIRST.store(libc::SIGINT, Ordering::SeqCst);
        COUNT.store(1, Ordering::SeqCst);
        let mut said = Vec::new();
        let start = Instant::now();
        let r = await_unless_skipped(&rx, Duration::from_millis(100), |s| said.push(s));
        assert_eq!(r, Err(Skipped::Deadline));
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert_eq!(said, [Stop::Signal(libc::SIGINT)]);
        // A second one: at once.
        COUNT.store(2, Ordering::SeqCst);
        let start = Instant::now();
        let r = await_unless_skipped(&rx, Duration::from_secs(60), |_| {});
        assert_eq!(r, Err(Skipped::Repeated));
        assert!(start.elapsed() < Duration::from_secs(1));
        // An output closed counts as the first: one signal more is the second.
        FIRST.store(OUTPUT_CLOSED, Ordering::SeqCst);
        COUNT.store(0, Ordering::SeqCst);
        assert_eq!(requested(), Some(Stop::OutputClosed));
        assert!(!repeated());
        COUNT.store(1, Ordering::SeqCst);
        assert!(repeated());
        // The worker gone without an answer.
        FIRST.store(0, Ordering::SeqCst);
        COUNT.store(0, Ordering::SeqCst);
        drop(tx);
        assert_eq!(
            await_unless_skipped(&rx, Duration::ZERO, |_| {}),
            Err(Skipped::WorkerGone)
        );
    }

    fn mpsc_pair() -> (std::sync::mpsc::Sender<u32>, Receiver<u32>) {
        std::sync::mpsc::channel()
    }
}
