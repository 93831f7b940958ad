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

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    fn hex_round_trip_and_errors() {
        let bytes = [0u8, 0x7f, 0xff, 0x10];
        assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
    }
}
