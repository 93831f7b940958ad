//! The VM that owns the MAC: where the path starts (or a reply ends). The host kernel cannot
//! see inside it.

use super::{HopKind, PathHop};
use crate::{mac::Mac, topology::Topology};

pub fn visit(topo: &Topology, v: usize, mac: Mac, hop: &mut PathHop) {
    let vm = &topo.vms[v];
    hop.kind = HopKind::Vm;
    hop.name = vm.name.clone();
    hop.kernel_visible = false;
    hop.mtu = vm.nics.iter().find(|n| n.mac == mac).and_then(|n| n.mtu);
}
