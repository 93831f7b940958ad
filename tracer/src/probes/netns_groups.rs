//! Which copy of the TC programs each traced interface is attached to, so that a program knows
//! the namespace of a packet from its ifindex alone (see `tracer_common::TC_NETNS_GROUPS`).
//! Interfaces that share an ifindex across namespaces go to different copies; past the last
//! copy, the last one asks the kernel.

use std::collections::BTreeMap;

use tracer_common::{netns_slot, TC_NETNS_GROUPS};

use super::tc::Interface;

/// The group of every interface and what the namespace map holds.
#[derive(Debug, PartialEq, Eq)]
pub struct NetnsGroups {
    /// The group of each interface, in the order they were given.
    of: Vec<usize>,
    /// `(slot, namespace inode)` entries of the map (see `tracer_common::netns_slot`).
    entries: Vec<(u32, u32)>,
}

impl NetnsGroups {
    pub fn assign(ifaces: &[Interface]) -> Self {
        // The namespaces seen with each ifindex, in order of first appearance.
        let mut by_ifindex: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let mut of = Vec::with_capacity(ifaces.len());
        for iface in ifaces {
            if netns_slot(0, iface.ifindex).is_none() {
                // Past the map: every group would ask the kernel, so the first does.
                of.push(0);
                continue;
            }
            let seen = by_ifindex.entry(iface.ifindex).or_default();
            let position = match seen.iter().position(|ino| *ino == iface.netns.ino) {
                Some(p) => p,
                None => {
                    seen.push(iface.netns.ino);
                    seen.len() - 1
                }
            };
            of.push(position.min(TC_NETNS_GROUPS - 1));
        }
        let mut entries = Vec::new();
        for (ifindex, namespaces) in by_ifindex {
            for (position, ino) in namespaces.iter().enumerate() {
                let last = position == TC_NETNS_GROUPS - 1;
                // The last group's entry would be shared by every namespace past it: left 0 so
                // that its program reads the device's namespace instead.
                if last && namespaces.len() > TC_NETNS_GROUPS {
                    break;
                }
                if let Some(slot) = netns_slot(position as u32, ifindex) {
                    entries.push((slot, *ino));
                }
            }
        }
        Self { of, entries }
    }

    /// The group of each interface given to [`assign`](Self::assign), in that order.
    pub fn of(&self) -> &[usize] {
        &self.of
    }

    /// How many copies of the programs the interfaces need (at least one).
    pub fn count(&self) -> usize {
        self.of.iter().max().map_or(1, |g| g + 1)
    }

    pub fn entries(&self) -> &[(u32, u32)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netns::Netns;
    use tracer_common::NETNS_BY_IFINDEX_ENTRIES;

    fn iface(ino: u32, ifindex: u32) -> Interface {
        Interface {
            netns: Netns {
                ino,
                name: format!("ns{ino}"),
                path: format!("/run/netns/ns{ino}").into(),
            },
            name: format!("if{ifindex}"),
            ifindex,
        }
    }

    fn slot(group: u32, ifindex: u32) -> u32 {
        netns_slot(group, ifindex).unwrap()
    }

    #[test]
    fn interfaces_sharing_an_ifindex_get_a_group_each() {
        let ifaces = [
            iface(10, 2),
            iface(10, 3),
            iface(11, 2), // same ifindex, other namespace
            iface(11, 7),
            iface(11, 7), // listed twice, same namespace
            iface(12, 2),
        ];
        let g = NetnsGroups::assign(&ifaces);
        assert_eq!(g.of(), [0, 0, 1, 0, 0, 2]);
        assert_eq!(g.count(), 3);
        assert_eq!(
            g.entries(),
            [
                (slot(0, 2), 10),
                (slot(1, 2), 11),
                (slot(2, 2), 12),
                (slot(0, 3), 10),
                (slot(0, 7), 11),
            ]
        );
    }

    #[test]
    fn past_the_last_group_the_kernel_is_asked() {
        let many = TC_NETNS_GROUPS as u32 + 2;
        let ifaces: Vec<_> = (0..many).map(|ns| iface(100 + ns, 2)).collect();
        let g = NetnsGroups::assign(&ifaces);
        assert_eq!(g.count(), TC_NETNS_GROUPS);
        assert_eq!(g.of()[ifaces.len() - 1], TC_NETNS_GROUPS - 1);
        // Every group but the last names its namespace; the last, shared, has no entry.
        let expected: Vec<_> = (0..TC_NETNS_GROUPS as u32 - 1)
            .map(|group| (slot(group, 2), 100 + group))
            .collect();
        assert_eq!(g.entries(), expected);
    }

    #[test]
    fn exactly_as_many_namespaces_as_groups_all_have_entries() {
        let ifaces: Vec<_> = (0..TC_NETNS_GROUPS as u32)
            .map(|ns| iface(100 + ns, 5))
            .collect();
        let g = NetnsGroups::assign(&ifaces);
        assert_eq!(g.entries().len(), TC_NETNS_GROUPS);
    }

    #[test]
    fn an_ifindex_past_the_map_has_no_entry() {
        let past = NETNS_BY_IFINDEX_ENTRIES;
        let g = NetnsGroups::assign(&[iface(12, past), iface(13, past)]);
        assert_eq!(g.count(), 1);
        assert!(g.entries().is_empty());
    }

    #[test]
    fn no_interfaces_still_load_one_copy() {
        assert_eq!(NetnsGroups::assign(&[]).count(), 1);
    }
}
