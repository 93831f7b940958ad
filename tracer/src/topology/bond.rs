//! Bonds as discovery finds them: a Linux bond device (`ip link add bond0 type bond`, its
//! members enslaved to it) or an Open vSwitch port with several interfaces (`ovs-vsctl
//! add-bond`). One link of several carries each packet; with active-backup, the active one.

use serde::{Deserialize, Serialize};

/// How a bond spreads packets over its members, by the names the kernel and OVS give them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BondMode {
    BalanceRr,
    /// One member carries everything; the others wait.
    ActiveBackup,
    BalanceXor,
    Broadcast,
    /// 802.3ad (LACP).
    #[serde(rename = "802.3ad")]
    Lacp,
    BalanceTlb,
    BalanceAlb,
    /// OVS: by source MAC and VLAN.
    BalanceSlb,
    /// OVS: by L3/L4 headers (needs LACP).
    BalanceTcp,
    Other,
}

impl BondMode {
    /// The kernel's IFLA_BOND_MODE numbering.
    pub fn from_kernel(mode: u8) -> Self {
        match mode {
            0 => Self::BalanceRr,
            1 => Self::ActiveBackup,
            2 => Self::BalanceXor,
            3 => Self::Broadcast,
            4 => Self::Lacp,
            5 => Self::BalanceTlb,
            6 => Self::BalanceAlb,
            _ => Self::Other,
        }
    }

    /// OVSDB's `Port.bond_mode`; OVS defaults to active-backup when it is empty.
    pub fn from_ovs(mode: Option<&str>) -> Self {
        match mode {
            None | Some("active-backup") => Self::ActiveBackup,
            Some("balance-slb") => Self::BalanceSlb,
            Some("balance-tcp") => Self::BalanceTcp,
            Some(_) => Self::Other,
        }
    }
}

impl std::fmt::Display for BondMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::BalanceRr => "balance-rr",
            Self::ActiveBackup => "active-backup",
            Self::BalanceXor => "balance-xor",
            Self::Broadcast => "broadcast",
            Self::Lacp => "802.3ad",
            Self::BalanceTlb => "balance-tlb",
            Self::BalanceAlb => "balance-alb",
            Self::BalanceSlb => "balance-slb",
            Self::BalanceTcp => "balance-tcp",
            Self::Other => "other",
        })
    }
}

/// A Linux bond device's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinuxBond {
    pub mode: BondMode,
    /// IFLA_BOND_ACTIVE_PORT: the member carrying the traffic (active-backup), by ifindex in
    /// the bond's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<u32>,
}

/// An OVS bond port's settings (from its `Port` row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OvsBond {
    pub mode: BondMode,
    /// `lacp`: `active`, `passive` or `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lacp: Option<String>,
    /// `bond_active_slave`: the MAC of the member carrying the traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_mac: Option<String>,
}
