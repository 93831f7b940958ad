//! `setns(CLONE_NEWNET)` moves only the calling thread, so every netlink socket and
//! netlink-attached TC filter must be created and removed by a thread that is inside the right
//! namespace. The guard enters a namespace and always returns on drop, so an early `?` cannot
//! leave the thread (and everything it does next) in the wrong namespace.

use std::{fs::File, os::fd::AsRawFd};

use anyhow::{Context as _, Result};

use super::{open::open_verified, Netns};

pub struct NetnsGuard {
    original: File,
}

impl NetnsGuard {
    /// Enters `netns`, verified to be the namespace that was discovered (see [`open_verified`]).
    pub fn enter(netns: &Netns) -> Result<Self> {
        let original = File::open("/proc/thread-self/ns/net")
            .context("cannot open this thread's network namespace")?;
        let ns = open_verified(netns)?;
        setns(&ns).with_context(|| format!("cannot enter network namespace {}", netns.name))?;
        Ok(Self { original })
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        if let Err(e) = setns(&self.original) {
            // Continuing in the wrong namespace would attach or detach on the wrong interfaces.
            eprintln!("pathtrace: fatal: cannot return to the original network namespace: {e}");
            std::process::abort();
        }
    }
}

fn setns(ns: &File) -> std::io::Result<()> {
    // SAFETY: plain syscall on a valid fd.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
