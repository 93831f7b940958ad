//! One event as the journey and the writers need it: the decoded hop, the kernel time and the
//! captured bytes.

use anyhow::{ensure, Context as _, Result};

use super::Hop;

#[derive(Clone, Debug)]
pub struct Sighting {
    pub hop: Hop,
    /// Kernel timestamp (CLOCK_MONOTONIC), for pcapng.
    pub ktime_ns: u64,
    pub snapshot: Vec<u8>,
}

/// The sightings of one run, at most a fixed number: a matching flow at line rate must not grow
/// pathtrace without bound. What does not fit is counted, and reported with the lost events.
pub struct Sightings {
    kept: Vec<Sighting>,
    cap: usize,
    /// Sightings that came after the cap.
    pub overflow: u64,
}

impl Sightings {
    /// Room for ~200 MB of the largest sightings: far more than any exchange a journey follows.
    pub const CAP: usize = 200_000;

    pub fn new(cap: usize) -> Self {
        Self {
            kept: Vec::new(),
            cap,
            overflow: 0,
        }
    }

    pub fn push(&mut self, s: Sighting) {
        if self.kept.len() < self.cap {
            self.kept.push(s);
        } else {
            self.overflow += 1;
        }
    }

    pub fn into_kept(self) -> Vec<Sighting> {
        self.kept
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

pub fn unhex(s: &str) -> Result<Vec<u8>> {
    ensure!(s.len().is_multiple_of(2), "odd number of hex digits");
    (0..s.len())
        .step_by(2)
        .map(|i| {
            let pair = s.get(i..i + 2).context("not ASCII")?;
            u8::from_str_radix(pair, 16).with_context(|| format!("not hex: {pair:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sightings_beyond_the_cap_are_counted_not_kept() {
        let hop = |n: u64| Sighting {
            hop: serde_json::from_value(serde_json::json!({
                "t_ns": n, "fingerprint": "0", "netns": "root", "netns_ino": 1, "ifname": "lo",
                "ifindex": 1, "hook": "ingress", "len": 60, "src_mac": "02:00:00:00:00:01",
                "dst_mac": "02:00:00:00:00:02", "ethertype": "0x0800", "skb": "0x0", "cpu": 0,
                "truncated": false
            }))
            .unwrap(),
            ktime_ns: n,
            snapshot: Vec::new(),
        };
        let mut s = Sightings::new(3);
        for n in 0..5 {
            s.push(hop(n));
        }
        assert_eq!(s.overflow, 2);
        let kept = s.into_kept();
        assert_eq!(
            kept.iter().map(|k| k.ktime_ns).collect::<Vec<_>>(),
            [0, 1, 2]
        );
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let bytes = [0u8, 0x7f, 0xff, 0x10];
        assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
    }
}
