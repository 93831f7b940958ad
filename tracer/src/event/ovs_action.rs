//! What the Open vSwitch datapath did to a packet.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tracer_common::wire::ovs_action;

/// One action of an Open vSwitch datapath flow (`enum ovs_action_attr`). The ones pathtrace
/// reasons about are variants; the rest keep the name the running kernel's BTF gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OvsAction {
    Output,
    Userspace,
    Set,
    /// Set fields under a mask.
    SetMasked,
    /// The kernel's form of a masked set it rewrote from `set`.
    SetToMasked,
    PushVlan,
    PopVlan,
    Sample,
    Recirc,
    Hash,
    Other(String),
}

impl OvsAction {
    /// From the uapi number; `name` (from BTF) names the ones without a variant.
    pub fn from_wire(value: u8, name: Option<String>) -> Self {
        match value {
            ovs_action::OUTPUT => Self::Output,
            ovs_action::USERSPACE => Self::Userspace,
            ovs_action::SET => Self::Set,
            ovs_action::PUSH_VLAN => Self::PushVlan,
            ovs_action::POP_VLAN => Self::PopVlan,
            ovs_action::SAMPLE => Self::Sample,
            ovs_action::RECIRC => Self::Recirc,
            ovs_action::HASH => Self::Hash,
            ovs_action::SET_MASKED => Self::SetMasked,
            _ if name.as_deref() == Some(ovs_action::SET_TO_MASKED_NAME) => Self::SetToMasked,
            _ => Self::Other(name.unwrap_or_else(|| format!("action#{value}"))),
        }
    }

    /// Whether it rewrites header fields, and with them, maybe, the packet's fingerprint.
    pub fn rewrites_headers(&self) -> bool {
        matches!(self, Self::Set | Self::SetMasked | Self::SetToMasked)
    }

    fn from_name(s: &str) -> Self {
        [
            Self::Output,
            Self::Userspace,
            Self::Set,
            Self::SetMasked,
            Self::SetToMasked,
            Self::PushVlan,
            Self::PopVlan,
            Self::Sample,
            Self::Recirc,
            Self::Hash,
        ]
        .into_iter()
        .find(|a| a.to_string() == s)
        .unwrap_or_else(|| Self::Other(s.to_string()))
    }
}

impl fmt::Display for OvsAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Output => "output",
            Self::Userspace => "userspace",
            Self::Set => "set",
            Self::SetMasked => "set_masked",
            Self::SetToMasked => ovs_action::SET_TO_MASKED_NAME,
            Self::PushVlan => "push_vlan",
            Self::PopVlan => "pop_vlan",
            Self::Sample => "sample",
            Self::Recirc => "recirc",
            Self::Hash => "hash",
            Self::Other(name) => name,
        })
    }
}

impl Serialize for OvsAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OvsAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_name(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_without_a_variant_keep_their_kernel_name() {
        assert_eq!(OvsAction::from_wire(4, None), OvsAction::PushVlan);
        assert_eq!(
            OvsAction::from_wire(12, Some("ct".into())).to_string(),
            "ct"
        );
        assert_eq!(OvsAction::from_wire(99, None).to_string(), "action#99");
        let ct: OvsAction = serde_json::from_str("\"ct\"").unwrap();
        assert_eq!(ct, OvsAction::Other("ct".into()));
        let push: OvsAction = serde_json::from_str("\"push_vlan\"").unwrap();
        assert_eq!(push, OvsAction::PushVlan);
        let masked = OvsAction::from_wire(40, Some("set_to_masked".into()));
        assert_eq!(masked, OvsAction::SetToMasked);
        assert!(masked.rewrites_headers() && OvsAction::from_wire(11, None).rewrites_headers());
        assert!(!OvsAction::Output.rewrites_headers());
    }
}
