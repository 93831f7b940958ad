//! Open vSwitch kernel datapath: where a packet enters it (`ovs_vport_receive`), each action its
//! flow applies (`openvswitch:ovs_do_execute_action`), upcalls to ovs-vswitchd
//! (`openvswitch:ovs_dp_upcall`), and the port it leaves by (`ovs_vport_send`). Patch ports do
//! not exist in the datapath, so this is the only way to see a packet cross br-int -> br-ethX.
//!
//! kprobes rather than fentry: aya cannot attach fentry to module functions (split BTF).

use aya_ebpf::{
    macros::{kprobe, tracepoint},
    programs::{ProbeContext, TracePointContext},
};
use tracer_common::{wire::ovs_action, Hook, OFFSET_UNAVAILABLE};

use crate::{
    emit::{self, emit},
    filter, kernel,
};

#[kprobe]
pub fn pathtrace_ovs_receive(ctx: ProbeContext) -> u32 {
    vport_event(&ctx, Hook::OvsReceive);
    0
}

#[kprobe]
pub fn pathtrace_ovs_send(ctx: ProbeContext) -> u32 {
    vport_event(&ctx, Hook::OvsSend);
    0
}

/// Both functions take `(struct vport *vport, struct sk_buff *skb, ...)`.
#[inline(always)]
fn vport_event(ctx: &ProbeContext, hook: Hook) -> Option<()> {
    let vport: u64 = ctx.arg(0)?;
    let skb: u64 = ctx.arg(1)?;
    let f = filter::filter();
    let ev = emit::scratch(hook)?;
    let bytes = kernel::classify_skb(skb, f, ev)?;
    let o = kernel::offsets();
    let (ifindex, netns) = match kernel::read_at::<u64>(vport, o.vport_dev) {
        Some(dev) => kernel::device(dev, o),
        None => kernel::skb_device(skb, o),
    };
    ev.netns_ino = netns;
    ev.ifindex = ifindex;
    ev.ovs.port = kernel::read_at::<u16>(vport, o.vport_port_no).unwrap_or(0) as u32;
    ev.hook = hook as u8;
    emit(ev, &bytes, bytes.available());
    Some(())
}

#[tracepoint]
pub fn pathtrace_ovs_action(ctx: TracePointContext) -> u32 {
    let _ = action_event(&ctx);
    0
}

#[inline(always)]
fn action_event(ctx: &TracePointContext) -> Option<()> {
    let t = kernel::tracepoint_offsets();
    if t.ovs_action_skbaddr == OFFSET_UNAVAILABLE || t.ovs_action_type == OFFSET_UNAVAILABLE {
        return None;
    }
    // SAFETY: offsets come from this kernel's tracepoint format.
    let skb: u64 = unsafe { ctx.read_at(t.ovs_action_skbaddr as usize) }.ok()?;
    let action: u8 = unsafe { ctx.read_at(t.ovs_action_type as usize) }.ok()?;
    let (ev, bytes) = kernel::skb_event(skb, Hook::OvsAction)?;
    ev.ovs.action = action;
    if t.ovs_action_data != OFFSET_UNAVAILABLE {
        let data: u64 = unsafe { ctx.read_at(t.ovs_action_data as usize) }.unwrap_or(0);
        match action {
            ovs_action::OUTPUT | ovs_action::RECIRC | ovs_action::HASH => {
                ev.ovs.arg = kernel::read_at::<u32>(data, 0).unwrap_or(0);
                if action == ovs_action::OUTPUT {
                    ev.ovs.port = ev.ovs.arg;
                }
            }
            ovs_action::PUSH_VLAN => {
                // struct ovs_action_push_vlan { __be16 vlan_tpid; __be16 vlan_tci; }
                if let Some(v) = kernel::read_at::<[u8; 4]>(data, 0) {
                    ev.ovs.arg = u32::from_be_bytes(v);
                }
            }
            _ => {}
        }
    }
    emit(ev, &bytes, bytes.available());
    Some(())
}

#[tracepoint]
pub fn pathtrace_ovs_upcall(ctx: TracePointContext) -> u32 {
    let _ = upcall_event(&ctx);
    0
}

#[inline(always)]
fn upcall_event(ctx: &TracePointContext) -> Option<()> {
    let t = kernel::tracepoint_offsets();
    if t.ovs_upcall_skbaddr == OFFSET_UNAVAILABLE {
        return None;
    }
    let skb: u64 = unsafe { ctx.read_at(t.ovs_upcall_skbaddr as usize) }.ok()?;
    let (ev, bytes) = kernel::skb_event(skb, Hook::OvsUpcall)?;
    if t.ovs_upcall_cmd != OFFSET_UNAVAILABLE {
        ev.ovs.upcall_cmd = unsafe { ctx.read_at::<u8>(t.ovs_upcall_cmd as usize) }.unwrap_or(0);
    }
    if t.ovs_upcall_port != OFFSET_UNAVAILABLE {
        ev.ovs.port = unsafe { ctx.read_at::<u32>(t.ovs_upcall_port as usize) }.unwrap_or(0);
    }
    emit(ev, &bytes, bytes.available());
    Some(())
}
