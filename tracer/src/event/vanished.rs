//! A traced interface that went away while the trace ran: its namespace was deleted (a
//! container or pod stopped) or the interface itself was (a VM shut down, a port unplugged).
//! The trace goes on on the hops that remain; the event says which one went, and when.

use serde::{Deserialize, Serialize};

/// What was deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gone {
    Interface,
    Namespace,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vanished {
    /// The namespace's name, as the hops give it.
    pub netns: String,
    pub netns_ino: u32,
    pub ifname: String,
    pub ifindex: u32,
    pub gone: Gone,
    /// When it was found gone, in milliseconds after the probes were attached (it went at most
    /// one status tick before).
    pub after_ms: u64,
}

impl Vanished {
    pub fn after_s(&self) -> f64 {
        self.after_ms as f64 / 1e3
    }
}

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Gone::Interface => "the interface was deleted",
            Gone::Namespace => "its network namespace was deleted",
        })
    }
}

impl std::fmt::Display for Vanished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{} vanished {:.1} s into the trace ({})",
            self.netns,
            self.ifname,
            self.after_s(),
            self.gone
        )
    }
}
