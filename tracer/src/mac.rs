//! MAC addresses as users type them: `fa:16:3e:fe:c7:87`, `FA-16-3E-FE-C7-87` (Windows,
//! some switch CLIs) or `fa16.3efe.c787` (Cisco-style dotted quads).

use std::{fmt, str::FromStr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
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
