//! MAC addresses as users type them: `fa:16:3e:fe:c7:87`, `FA-16-3E-FE-C7-87` (Windows,
//! some switch CLIs) or `fa16.3efe.c787` (Cisco-style dotted quads).

use std::{fmt, str::FromStr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Mac(pub [u8; 6]);

/// Length of `fa:16:3e:fe:c7:87`.
const MAC_TEXT_LEN: usize = 17;

impl Mac {
    /// Written without the formatting machinery: every reported packet has two or three MACs,
    /// and `{:02x}` six times over was a tenth of the time spent per event.
    fn text(&self) -> [u8; MAC_TEXT_LEN] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b':'; MAC_TEXT_LEN];
        for (i, b) in self.0.iter().enumerate() {
            out[3 * i] = HEX[usize::from(b >> 4)];
            out[3 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        out
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text();
        // Only ASCII hex digits and colons were written.
        f.pad(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.text();
        s.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> serde::Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl FromStr for Mac {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid MAC address '{s}' (expected e.g. fa:16:3e:fe:c7:87, FA-16-3E-FE-C7-87 or fa16.3efe.c787)"
            )
        };
        let groups: Vec<&str> = if s.contains(':') {
            s.split(':').collect()
        } else if s.contains('-') {
            s.split('-').collect()
        } else if s.contains('.') {
            s.split('.').collect()
        } else {
            return Err(bad());
        };
        // Six groups of two hex digits, or three of four (dotted).
        let width = match groups.len() {
            6 => 2,
            3 if s.contains('.') => 4,
            _ => return Err(bad()),
        };
        let mut hex = String::with_capacity(12);
        for g in groups {
            if g.len() != width || !g.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            hex.push_str(g);
        }
        let mut mac = [0u8; 6];
        for (i, byte) in mac.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Mac(mac))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECTED: Mac = Mac([0xfa, 0x16, 0x3e, 0xfe, 0xc7, 0x87]);

    #[test]
    fn accepts_the_three_notations() {
        for s in [
            "fa:16:3e:fe:c7:87",
            "FA-16-3E-FE-C7-87",
            "fa16.3efe.c787",
            "FA:16:3e:FE:c7:87",
        ] {
            assert_eq!(s.parse::<Mac>(), Ok(EXPECTED), "{s}");
        }
    }

    #[test]
    fn prints_canonically() {
        assert_eq!(EXPECTED.to_string(), "fa:16:3e:fe:c7:87");
        assert_eq!(
            Mac([0, 1, 0x10, 0x9a, 0xf0, 0xff]).to_string(),
            "00:01:10:9a:f0:ff"
        );
        assert_eq!(format!("{:>18}", Mac([0; 6])), " 00:00:00:00:00:00");
        assert_eq!(
            serde_json::to_string(&EXPECTED).unwrap(),
            "\"fa:16:3e:fe:c7:87\""
        );
    }

    #[test]
    fn rejects_malformed_input() {
        for s in [
            "",
            "fa:16:3e:fe:c7",
            "fa:16:3e:fe:c7:87:00",
            "fa:16:3e:fe:c7:8g",
            "fa:16:3e:fe:c7:877",
            "fa16.3efe",
            "fa16:3efe:c787",
            "fa163efec787",
            "fa:16-3e:fe:c7:87",
            "+a:16:3e:fe:c7:87",
        ] {
            let err = s.parse::<Mac>().unwrap_err();
            assert!(err.starts_with("invalid MAC address"), "{s}: {err}");
        }
    }
}
