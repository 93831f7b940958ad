//! The network namespace of the device a TC program runs on. `__sk_buff` has the ifindex but
//! not the namespace, and ifindexes are per namespace: every namespace's first veth is 2.
//! Following `skb->dev->nd_net->ns.inum` takes three dependent kernel reads, each a helper call
//! (more than half of a reported packet's cost when measured), so the answer is looked up:
//! by namespace group and ifindex where userspace made it unambiguous (see
//! `tracer_common::TC_NETNS_GROUPS`), else by device once it has been read.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap},
};
use tracer_common::{netns_slot, NETNS_BY_DEV_ENTRIES, NETNS_BY_IFINDEX_ENTRIES, TC_NETNS_GROUPS};

use crate::kernel;

/// See `tracer_common::NETNS_BY_IFINDEX_MAP`; filled by userspace when it attaches.
#[map(name = "NETNS_BY_IFINDEX")]
static NETNS_BY_IFINDEX: Array<u32> =
    Array::with_max_entries(NETNS_BY_IFINDEX_ENTRIES * TC_NETNS_GROUPS as u32, 0);

/// See `tracer_common::NETNS_BY_DEV_MAP`; filled here.
#[map(name = "NETNS_BY_DEV")]
static NETNS_BY_DEV: HashMap<u64, u32> = HashMap::with_max_entries(NETNS_BY_DEV_ENTRIES, 0);

/// The namespace inode of the device `skb` (a kernel `struct sk_buff *`) is on, whose ifindex
/// is `ifindex`, as seen by the copy of the program for namespace group `GROUP`; 0 if it cannot
/// be read.
#[inline(always)]
pub fn of_tc_device<const GROUP: u32>(skb: u64, ifindex: u32) -> u32 {
    if let Some(slot) = netns_slot(GROUP, ifindex) {
        if let Some(&ino) = NETNS_BY_IFINDEX.get(slot) {
            if ino != 0 {
                return ino;
            }
        }
    }
    let o = kernel::offsets();
    let Some(dev) = kernel::read_at::<u64>(skb, o.skb_dev) else {
        return 0;
    };
    // SAFETY: a plain u32 value, read before any other program could delete it (entries are
    // never deleted).
    if let Some(&ino) = unsafe { NETNS_BY_DEV.get(&dev) } {
        return ino;
    }
    let ino = kernel::device_netns(dev, o);
    if ino != 0 {
        // A full map (more devices than entries) only means the reads are repeated.
        let _ = NETNS_BY_DEV.insert(&dev, &ino, BPF_NOEXIST);
    }
    ino
}

const BPF_NOEXIST: u64 = 1;
