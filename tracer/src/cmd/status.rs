//! The live one-line status of a journey on a terminal (hooks, packets seen, events lost), or
//! one line per new DHCP message and loss when stderr is not a terminal; a hop that vanishes is
//! a line of its own either way.

use std::{collections::BTreeSet, io::IsTerminal as _, time::Instant};

use crate::event::{DhcpMessage, Hop, Vanished};

pub struct Status {
    tty: bool,
    hooks: usize,
    fingerprints: BTreeSet<String>,
    messages: Vec<DhcpMessage>,
    lost: u64,
    start: Instant,
}

impl Status {
    pub fn new(hooks: usize) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            hooks,
            fingerprints: BTreeSet::new(),
            messages: Vec::new(),
            lost: 0,
            start: Instant::now(),
        }
    }

    /// Distinct packets seen.
    pub fn packets(&self) -> u64 {
        self.fingerprints.len() as u64
    }

    pub fn saw(&mut self, hop: &Hop) {
        // Bounded like the sightings: past that, the count stops (and so does `--count`).
        if self.fingerprints.len() < crate::event::Sightings::CAP {
            self.fingerprints.insert(hop.fingerprint.clone());
        }
        let Some(m) = hop.dhcp_message() else {
            return;
        };
        if self.messages.contains(&m) {
            return;
        }
        self.messages.push(m);
        if !self.tty {
            eprintln!("pathtrace: seen {m} at {} {}", hop.ifname, hop.hook);
        }
    }

    pub fn tick(&mut self, lost: u64, vanished: &[Vanished]) {
        for v in vanished {
            // On its own line, above the status line that follows.
            self.clear();
            eprintln!("pathtrace: warning: {v}");
        }
        if lost > self.lost && !self.tty {
            eprintln!("pathtrace: {lost} event(s) lost so far (ring buffer full)");
        }
        self.lost = lost;
        if self.tty {
            let messages: Vec<String> = self.messages.iter().map(ToString::to_string).collect();
            eprint!(
                "\r\x1b[Kpathtrace: {} hooks attached · {} packet(s){} · {} lost · {:.0} s",
                self.hooks,
                self.packets(),
                if messages.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", messages.join(", "))
                },
                self.lost,
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    pub fn clear(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}
