//! Watches the traced interfaces while the trace runs, so that one deleted under it (with its
//! namespace or alone) is named when it goes, not only guessed from a gap afterwards. Polled on
//! the session's status tick: a handful of `setns` and `if_indextoname` calls, no socket kept.

use std::time::Instant;

use crate::{
    event::{Gone, Vanished},
    netns::{NetnsGone, NetnsGuard},
    probes::Interface,
};

pub struct Presence {
    watched: Vec<Interface>,
    reported: Vec<bool>,
    since: Instant,
}

impl Presence {
    pub fn new(interfaces: &[Interface]) -> Self {
        Self {
            watched: interfaces.to_vec(),
            reported: vec![false; interfaces.len()],
            since: Instant::now(),
        }
    }

    /// The interfaces found gone since the last call.
    pub fn check(&mut self) -> Vec<Vanished> {
        let mut out = Vec::new();
        for (iface, reported) in self.watched.iter().zip(&mut self.reported) {
            if *reported {
                continue;
            }
            if let Some(gone) = gone(iface) {
                *reported = true;
                out.push(Vanished {
                    netns: iface.netns.name.clone(),
                    netns_ino: iface.netns.ino,
                    ifname: iface.name.clone(),
                    ifindex: iface.ifindex,
                    gone,
                    after_ms: self.since.elapsed().as_millis() as u64,
                });
            }
        }
        out
    }
}

/// Whether `iface` is gone, and with what. Not being able to look (out of descriptors, say) is
/// not evidence that it went.
fn gone(iface: &Interface) -> Option<Gone> {
    let _inside = match NetnsGuard::enter(&iface.netns) {
        Ok(g) => g,
        Err(e) if e.downcast_ref::<NetnsGone>().is_some() => return Some(Gone::Namespace),
        Err(_) => return None,
    };
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buffer of IF_NAMESIZE as required.
    let name = unsafe { libc::if_indextoname(iface.ifindex, buf.as_mut_ptr()) };
    if !name.is_null() {
        return None;
    }
    // ENXIO: no interface with that index in this namespace.
    (std::io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO)).then_some(Gone::Interface)
}
