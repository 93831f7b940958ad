//! SIGINT, SIGTERM and SIGHUP at any moment, without leaving anything in the kernel. Until the
//! first kernel change ([`arm`]) a signal ends the process at once: there is nothing to undo,
//! and a discovery stuck on a wedged daemon must still yield to Ctrl-C. From then on a signal
//! only sets a flag that the attach loops, the capture loop and the steps after it check: the
//! guards detach what was attached, and the report of what was seen is still printed. A leaf:
//! imports nothing of pathtrace.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use anyhow::{bail, Result};

static ARMED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
/// The shell's convention for "ended by signal N".
const EXIT_BY_SIGNAL: libc::c_int = 128;

extern "C" fn on_signal(sig: libc::c_int) {
    if ARMED.load(Ordering::SeqCst) {
        SIGNAL.store(sig, Ordering::SeqCst);
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

/// The signal received since [`arm`], if any.
pub fn requested() -> Option<libc::c_int> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// An error once a signal was received: what is being set up is abandoned (and its guards
/// detach it).
pub fn check() -> Result<()> {
    match requested() {
        Some(sig) => bail!("interrupted by {} while attaching", name(sig)),
        None => Ok(()),
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
