//! Who owns a MAC on this host: a VM NIC (libvirt), an OVS port (`external_ids:attached-mac`)
//! or a link's own address, in that order of trust.

use anyhow::{bail, Result};

use crate::{
    mac::Mac,
    topology::{graph::Node, IfaceKey, LinkKind, Topology},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// NIC `nic` of VM `vm` (indexes into the topology); the tap is where the host sees it.
    VmNic {
        vm: usize,
        nic: usize,
        tap: Option<IfaceKey>,
    },
    /// A link whose packets carry this MAC as source.
    Link(IfaceKey),
}

impl Owner {
    /// The graph node a walk from (or to) this owner starts at.
    pub fn node(&self) -> Node {
        match *self {
            Self::VmNic { vm, .. } => Node::Vm(vm),
            Self::Link(k) => Node::Iface(k),
        }
    }

    /// The first link the host sees the owner's packets on: the VM's tap, or the link itself.
    /// A VM whose tap does not exist is not running here.
    pub fn first_link(&self, topo: &Topology, mac: Mac) -> Result<IfaceKey> {
        match *self {
            Self::VmNic { tap: Some(k), .. } | Self::Link(k) => Ok(k),
            Self::VmNic { vm, nic, tap: None } => {
                let vm = &topo.vms[vm];
                bail!(
                    "VM {} owns {mac} but its tap {} does not exist on this host (is the VM running?)",
                    vm.name,
                    vm.nics[nic]
                        .target_dev
                        .as_deref()
                        .unwrap_or("(no <target dev>)")
                );
            }
        }
    }
}

pub fn find(topo: &Topology, mac: Mac) -> Result<Owner> {
    for (vi, vm) in topo.vms.iter().enumerate() {
        for (ni, nic) in vm.nics.iter().enumerate() {
            if nic.mac == mac {
                return Ok(Owner::VmNic {
                    vm: vi,
                    nic: ni,
                    tap: nic.netdev,
                });
            }
        }
    }
    for b in &topo.ovs_bridges {
        for p in &b.ports {
            for i in &p.interfaces {
                if i.attached_mac() == Some(mac) {
                    if let Some(k) = i.netdev {
                        return Ok(Owner::Link(k));
                    }
                }
            }
        }
    }
    // A Linux bridge takes a port's MAC, VLAN devices their parent's: the device that sends
    // the packet first is the most specific one.
    let rank = |k: LinkKind| match k {
        LinkKind::Veth | LinkKind::Tap | LinkKind::Tun => 0,
        LinkKind::Physical | LinkKind::Macvlan => 1,
        LinkKind::Vlan | LinkKind::Bond | LinkKind::Dummy => 2,
        LinkKind::Openvswitch => 3,
        _ => 4,
    };
    if let Some(i) = topo
        .interfaces
        .iter()
        .filter(|i| i.mac == Some(mac))
        .min_by_key(|i| rank(i.kind))
    {
        return Ok(Owner::Link(i.key));
    }
    bail!(
        "MAC {mac} is not on this host (not a VM NIC, OVS attached-mac or link address); closest: {}",
        closest(topo, mac)
    )
}

/// The three known MACs that share most hex digits with `mac`, with where they are.
fn closest(topo: &Topology, mac: Mac) -> String {
    let mut known: Vec<(Mac, String)> = Vec::new();
    for vm in &topo.vms {
        for nic in &vm.nics {
            known.push((nic.mac, format!("VM {}", vm.name)));
        }
    }
    for i in &topo.interfaces {
        if let Some(m) = i.mac {
            if m.0 != [0; 6] {
                known.push((m, format!("{}:{}", i.netns_name, i.name)));
            }
        }
    }
    let as_u64 =
        |m: &Mac| u64::from_be_bytes([0, 0, m.0[0], m.0[1], m.0[2], m.0[3], m.0[4], m.0[5]]);
    let wanted = as_u64(&mac);
    let same_digits = |m: &Mac| -> usize {
        let a = as_u64(m);
        (0..12)
            .filter(|n| (a >> (n * 4)) & 0xf == (wanted >> (n * 4)) & 0xf)
            .count()
    };
    // Most digits in common, then numerically nearest: a typo in the last digit names the
    // neighbour, not whichever of the equally similar MACs sorts first.
    known.sort_by_key(|(m, w)| {
        (
            std::cmp::Reverse(same_digits(m)),
            as_u64(m).abs_diff(wanted),
            w.clone(),
        )
    });
    known.dedup_by(|a, b| a.0 == b.0);
    if known.is_empty() {
        return "none (no link has a MAC)".into();
    }
    known
        .iter()
        .take(3)
        .map(|(m, w)| format!("{m} ({w})"))
        .collect::<Vec<_>>()
        .join(", ")
}
