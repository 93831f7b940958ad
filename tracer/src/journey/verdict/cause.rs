//! Why a packet stopped, as typed evidence: one variant per cause, with the facts that name it
//! (bridge, flow, drop reason, MTU figures, VLANs, server). The JSON carries it as `cause`
//! (`kind` plus the fields) for scripts; `Display` is the sentence printed as `reason`.

use std::fmt;

use serde::Serialize;

use crate::{
    event::{DhcpMessage, DropReason, HookKind, Vanished},
    journey::after_capture::{AfterCapture, WHAT_IT_HOLDS},
    mac::Mac,
    path::{fmt_vlan, Note, Unresolved},
    topology::{ovn::DhcpGap, OperState},
};

pub use super::ovn_cause::OvnCause;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// An OpenFlow flow that drops counted packets during the trace and matches this one.
    OpenflowDrop {
        bridge: String,
        table: u8,
        priority: u16,
        flow: String,
    },
    /// The kernel dropped the packet and said why.
    KernelDrop {
        /// `None`: the drop probe gave no reason.
        reason: Option<DropReason>,
        ifname: String,
        netns: String,
    },
    /// An interface on the way no longer exists.
    LinkGone {
        ifname: String,
        /// Seen going away during the trace (not only missing afterwards).
        #[serde(skip_serializing_if = "Option::is_none")]
        vanished: Option<Vanished>,
    },
    /// An interface on the way is down (now, after the trace).
    LinkDown {
        ifname: String,
        oper_state: OperState,
        admin_up: bool,
        /// Its veth peer, when that is what took it down.
        #[serde(skip_serializing_if = "Option::is_none")]
        down_peer: Option<String>,
    },
    /// The frame is larger than the next interface's MTU allows.
    Mtu {
        frame_len: u32,
        ifname: String,
        mtu: u32,
        largest_frame: u32,
    },
    /// The packet reached a bridge in a VLAN that the access port it should leave by does
    /// not carry, and no flow translated it.
    VlanMismatch {
        bridge: String,
        seen_vlan: Option<u16>,
        seen_at: String,
        seen_hook: HookKind,
        port: String,
        access_vlan: u16,
    },
    /// A VLAN-filtering Linux bridge dropped the frame at one of its ports.
    BridgeVlanFiltered {
        bridge: String,
        port: String,
        /// The frame's VLAN (arriving) or the VLAN it was switched in (leaving).
        vlan: Option<u16>,
        leaving: bool,
    },
    /// What the topology itself predicted at a hop at or past the last sighting.
    PredictedBlock { hop: String, note: Note },
    /// The message reached the server's side, where no server runs any more.
    ServerGone {
        after: DhcpMessage,
        reached: String,
        netns: String,
        pid: u32,
    },
    /// The message reached the server's side, where no server ran when pathtrace started.
    ServerNotRunning {
        after: DhcpMessage,
        reached: String,
        netns: String,
    },
    /// A running server received the message and did not answer.
    ServerSilent {
        after: DhcpMessage,
        server: String,
        netns: String,
        /// What in its configuration tells it not to answer, when something does.
        #[serde(skip_serializing_if = "Option::is_none")]
        refusal: Option<Refusal>,
    },
    /// No server is known, and none answered.
    NoServer { after: DhcpMessage },
    /// The client received the server's message and did not go on.
    ClientSilent { after: DhcpMessage },
    /// The packets' destination has no path on this host that discovery shows: they were last
    /// seen at `last_at`, the farthest they were seen from the sender.
    DestinationUnplaced {
        ip: std::net::IpAddr,
        unresolved: Unresolved,
        last_at: String,
    },
    /// Nothing of this packet was seen on the expected path.
    NotOnPath,
    /// Nothing of the whole exchange was seen.
    NothingSeen { what: Seen, mac: Mac },
    /// Seen up to a hop, then nothing: no drop reported, no fault found.
    Unexplained {
        last_at: String,
        last_hook: HookKind,
        /// The facts after the capture were not read: what could have named the cause.
        #[serde(skip_serializing_if = "Option::is_none")]
        missing: Option<AfterCapture>,
    },
    /// A cause in OVN's terms (its own `kind`s, see [`OvnCause`]).
    #[serde(untagged)]
    Ovn(OvnCause),
}

/// What a run looked for, in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Seen {
    DhcpPacket,
    IcmpPacket,
    Packet,
}

/// Why a running DHCP server's configuration keeps it from answering this client, as dnsmasq
/// itself decides: a host entry that says `ignore`, or no `dhcp-range` in the subnet it would
/// answer on (dnsmasq then logs "no address range available" and stays silent, even for a
/// client with a reserved address).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// `dhcp-host=MAC,ignore`, where (`FILE:LINE` or `command line`).
    IgnoresClient { origin: String },
    /// The subnets of the interfaces it listens on, none of which a `dhcp-range` falls in.
    NoRangeForSubnet { subnets: Vec<String> },
    /// ovn-controller: the client's logical port has no (or incomplete) DHCPv4 options.
    OvnNoDhcpOptions { port: String, gap: DhcpGap },
}

fn server_silent(
    f: &mut fmt::Formatter<'_>,
    after: DhcpMessage,
    server: &str,
    netns: &str,
    refusal: Option<&Refusal>,
) -> fmt::Result {
    write!(
        f,
        "no reply from the DHCP server: {server} in {netns} received the {after} and did not answer"
    )?;
    match refusal {
        Some(Refusal::IgnoresClient { origin }) => {
            write!(f, ": its host entry for the client says ignore ({origin})")
        }
        Some(Refusal::NoRangeForSubnet { subnets }) => write!(
            f,
            ": it has no dhcp-range in the subnet it listens on ({}), so it answers no one there",
            subnets.join(", ")
        ),
        Some(Refusal::OvnNoDhcpOptions { port, gap }) => write!(
            f,
            ": the client's logical port {port} {gap}, so OVN has no DHCP reply for it"
        ),
        None => write!(f, " (check its log, host entries and ranges)"),
    }
}

/// "VLAN filtering on BRIDGE: ...", in the words of the path's note.
fn bridge_vlan_filtered(
    f: &mut fmt::Formatter<'_>,
    bridge: &str,
    port: &str,
    vlan: Option<u16>,
    leaving: bool,
) -> fmt::Result {
    let note = Note::BridgeVlanFiltered {
        port: port.to_string(),
        vlan,
        leaving,
    };
    write!(f, "VLAN filtering on {bridge}: {note}")
}

/// "link down: X is down", and why when its peer is the reason.
fn link_down(
    f: &mut fmt::Formatter<'_>,
    ifname: &str,
    oper_state: OperState,
    admin_up: bool,
    down_peer: Option<&str>,
) -> fmt::Result {
    match down_peer {
        Some(peer) => write!(
            f,
            "link down: {ifname} is {oper_state} because its peer {peer} is down"
        ),
        None if admin_up => write!(f, "link down: {ifname} is {oper_state}"),
        None => write!(
            f,
            "link down: {ifname} is {oper_state} (administratively down)"
        ),
    }
}

/// "link down: X no longer exists", and how it went when that was seen.
fn link_gone(f: &mut fmt::Formatter<'_>, ifname: &str, vanished: Option<&Vanished>) -> fmt::Result {
    write!(f, "link down: {ifname} no longer exists")?;
    match vanished {
        Some(v) => write!(f, ": {} {:.1} s into the trace", v.gone, v.after_s()),
        None => Ok(()),
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OpenflowDrop { bridge, flow, .. } => {
                write!(f, "OpenFlow drop on {bridge}: flow \"{flow}\" matched it")
            }
            Self::KernelDrop {
                reason,
                ifname,
                netns,
            } => {
                let name = reason.as_ref().map_or("?", |r| r.0.as_str());
                write!(f, "kfree_skb: {name} (on {ifname} in {netns})")
            }
            Self::LinkGone { ifname, vanished } => link_gone(f, ifname, vanished.as_ref()),
            Self::LinkDown {
                ifname,
                oper_state,
                admin_up,
                down_peer,
            } => link_down(f, ifname, *oper_state, *admin_up, down_peer.as_deref()),
            Self::Mtu {
                frame_len,
                ifname,
                mtu,
                largest_frame,
            } => write!(
                f,
                "MTU: a {frame_len}-byte frame does not fit {ifname}'s MTU of {mtu} (largest frame {largest_frame})"
            ),
            Self::BridgeVlanFiltered {
                bridge,
                port,
                vlan,
                leaving,
            } => bridge_vlan_filtered(f, bridge, port, *vlan, *leaving),
            Self::VlanMismatch {
                bridge,
                seen_vlan,
                seen_at,
                seen_hook,
                port,
                access_vlan,
            } => write!(
                f,
                "VLAN tag mismatch: the packet reached {bridge} tagged {} (seen at {seen_at} {seen_hook}), but {port} is an access port of VLAN {access_vlan}; no flow translated {} to {access_vlan}",
                fmt_vlan(*seen_vlan),
                fmt_vlan(*seen_vlan),
            ),
            Self::PredictedBlock { hop, note } => write!(f, "{hop}: {note}"),
            Self::ServerGone {
                after,
                reached,
                netns,
                pid,
            } => no_server_runs(f, *after, reached, netns, &format!("dnsmasq pid {pid} is gone")),
            Self::ServerNotRunning {
                after,
                reached,
                netns,
            } => no_server_runs(f, *after, reached, netns, NEVER_RAN),
            Self::ServerSilent {
                after,
                server,
                netns,
                refusal,
            } => server_silent(f, *after, server, netns, refusal.as_ref()),
            Self::NoServer { after } => write!(f, "no reply from a DHCP server to the {after}"),
            Self::ClientSilent { after } => write!(
                f,
                "the VM's DHCP client did not continue after the {after} reached it"
            ),
            Self::DestinationUnplaced {
                ip,
                unresolved,
                last_at,
            } => write!(
                f,
                "no path to {ip} on this host ({unresolved}); last seen at {last_at}"
            ),
            Self::NotOnPath => f.write_str("no event of this packet on the expected path"),
            Self::NothingSeen { what, mac } => write!(
                f,
                "no {} from or to {mac} was seen on the expected path",
                match what {
                    Seen::DhcpPacket => "DHCP packet",
                    Seen::IcmpPacket => "ICMP packet",
                    Seen::Packet => "packet",
                }
            ),
            Self::Ovn(c) => c.fmt(f),
            Self::Unexplained {
                last_at,
                last_hook,
                missing,
            } => unexplained(f, last_at, *last_hook, *missing),
        }
    }
}

/// "not seen after X", and what could have said why when it is missing.
fn unexplained(
    f: &mut fmt::Formatter<'_>,
    last_at: &str,
    last_hook: HookKind,
    missing: Option<AfterCapture>,
) -> fmt::Result {
    match missing {
        None => write!(
            f,
            "not seen after {last_at} {last_hook}; no drop was reported (a hook the kernel lacks, or a path the topology does not show)"
        ),
        Some(why) => write!(
            f,
            "not seen after {last_at} {last_hook}, and no drop names it; {WHAT_IT_HOLDS}, which could, were not read ({why}): let the run end, or stop it once and wait"
        ),
    }
}

/// Why no server runs where one should, when none ran when pathtrace started either.
const NEVER_RAN: &str =
    "none ran there when pathtrace started either: start the DHCP agent's dnsmasq for this network";

fn no_server_runs(
    f: &mut fmt::Formatter<'_>,
    after: DhcpMessage,
    reached: &str,
    netns: &str,
    why: &str,
) -> fmt::Result {
    write!(
        f,
        "no reply from the DHCP server: the {after} reached {reached} but no DHCP server runs in namespace {netns} ({why})"
    )
}

impl Cause {
    /// Whether the stop is in the Linux bridge just after the last sighting when that bridge
    /// forwards to the interface this cause names (it forwards without a hook of ours).
    pub fn is_about_the_next_port(&self) -> bool {
        matches!(
            self,
            Self::Mtu { .. }
                | Self::LinkDown { .. }
                | Self::LinkGone { .. }
                | Self::BridgeVlanFiltered { leaving: true, .. }
        )
    }
}
