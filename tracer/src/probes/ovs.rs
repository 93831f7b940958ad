//! Open vSwitch kernel datapath probes: kprobes on `ovs_vport_receive` / `ovs_vport_send` and
//! the `openvswitch:ovs_do_execute_action` / `ovs_dp_upcall` tracepoints. Each one is optional:
//! a kernel without kprobes (or without the module) keeps the others, and the caller reports
//! which are inactive and why.

use anyhow::{bail, Context as _, Result};
use aya::programs::{kprobe::KProbeLink, trace_point::TracePointLink, KProbe, TracePoint};

use crate::event::HookStatus;

/// One attached OVS hook.
pub enum OvsLink {
    KProbe(#[allow(dead_code)] KProbeLink),
    TracePoint(#[allow(dead_code)] TracePointLink),
}

/// Functions probed with kprobes: (program name, kernel function, status label).
pub const KPROBES: [(&str, &str); 2] = [
    (tracer_common::OVS_RECEIVE_PROGRAM, "ovs_vport_receive"),
    (tracer_common::OVS_SEND_PROGRAM, "ovs_vport_send"),
];

/// Tracepoints: (program name, tracepoint name in category `openvswitch`).
pub const TRACEPOINTS: [(&str, &str); 2] = [
    (tracer_common::OVS_ACTION_PROGRAM, "ovs_do_execute_action"),
    (tracer_common::OVS_UPCALL_PROGRAM, "ovs_dp_upcall"),
];

/// Whether the openvswitch module is loaded (its datapath functions and tracepoints exist).
pub fn module_loaded() -> bool {
    std::path::Path::new("/sys/module/openvswitch").exists()
}

/// Whether the kernel can place kprobes (CONFIG_KPROBES).
pub fn kprobes_supported() -> bool {
    std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists()
}

pub(super) fn attach_kprobe(program: &mut KProbe, function: &str) -> Result<OvsLink> {
    if !kprobes_supported() {
        bail!("this kernel has no kprobes (CONFIG_KPROBES)");
    }
    super::verify::loaded(program.load())
        .with_context(|| format!("the kernel rejected the kprobe on {function}"))?;
    let id = program
        .attach(function, 0)
        .with_context(|| format!("cannot place a kprobe on {function}"))?;
    Ok(OvsLink::KProbe(program.take_link(id)?))
}

pub(super) fn attach_tracepoint(program: &mut TracePoint, name: &str) -> Result<OvsLink> {
    if !crate::kernel::tracefs::exists("openvswitch", name) {
        bail!("no openvswitch:{name} tracepoint on this kernel");
    }
    super::verify::loaded(program.load())
        .with_context(|| format!("the kernel rejected the openvswitch:{name} probe"))?;
    let id = program
        .attach("openvswitch", name)
        .with_context(|| format!("cannot attach to openvswitch:{name}"))?;
    Ok(OvsLink::TracePoint(program.take_link(id)?))
}

/// Status line of one OVS hook.
pub fn status(label: String, result: &Result<OvsLink>) -> HookStatus {
    match result {
        Ok(_) => HookStatus::active(label, String::new()),
        Err(e) => HookStatus::inactive(label, format!("{e:#}")),
    }
}
