//! What the topology says about one hop of the path, as typed facts: the verdict asks a note
//! whether it predicts a stop instead of reading its words. `Display` gives the sentence that
//! `pathtrace path` prints.

use std::fmt;

use serde::{Serialize, Serializer};

use super::{fmt_vlan, gap::LooseEnd, openflow_sim::SimNote};
use crate::topology::OperState;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A patch port: no netdev, so the datapath crosses it within one flow.
    PatchPort {
        peer: String,
    },
    BridgeEndpoint,
    FlowsNotRead,
    /// What the OpenFlow simulation could not decide.
    Simulation(SimNote),
    DroppedByFlow {
        flow: String,
    },
    TableMiss,
    ToController,
    /// The flow outputs to another port than the one the path continues through.
    OutputElsewhere {
        to: String,
        port: String,
        ofport: String,
    },
    /// NORMAL drops a tagged packet arriving on an access port.
    TaggedOnAccessPort {
        vlan: Option<u16>,
        port: String,
        tag: u16,
    },
    NotTrunked {
        port: String,
        vlan: Option<u16>,
    },
    /// NORMAL does not forward a packet of one VLAN to an access port of another.
    OtherAccessVlan {
        vlan: Option<u16>,
        port: String,
        tag: u16,
    },
    DeliveredToBridge,
    VlanDeviceMismatch {
        device: Option<u16>,
        packet: Option<u16>,
    },
    AdminDown,
    OperDown {
        state: OperState,
    },
    BridgeNoCarrier,
    /// A lower MTU than an earlier hop's: larger frames are dropped here.
    MtuLower {
        mtu: u32,
        earlier: u32,
        at: String,
    },
    /// A VLAN-filtering Linux bridge drops the frame at this port: arriving untagged with no
    /// PVID or in a VLAN the port does not carry, or leaving in one it does not carry.
    BridgeVlanFiltered {
        port: String,
        vlan: Option<u16>,
        leaving: bool,
    },
    /// Nothing joins this hop, where the client's side ends, to the far side (the DHCP server's
    /// or the destination's).
    PathBreaks {
        client_end: LooseEnd,
        far: FarSide,
        server_end: LooseEnd,
    },
    /// The packet is routed here: it leaves its namespace through this link, by this route.
    RoutedOut {
        route: String,
    },
    /// The packet reaches the namespace its next hop's MAC is in, whose main table has no
    /// route to its destination (nor is the address its own): it goes no further.
    NoRoute {
        netns: String,
        dst: std::net::IpAddr,
    },
    /// An OVN integration bridge: its flows are OVN's logical pipelines, read from OVN's
    /// databases rather than simulated.
    OvnPipeline,
    /// The packet enters this logical switch through this logical port.
    OvnLogicalPort {
        switch: String,
        port: String,
    },
    /// The VIF's `iface-id` names no logical port (`bound_on: None`), or one bound on another
    /// chassis: ovn-controller installs no flow for it here and OVN drops its packets.
    OvnPortNotBound {
        iface_id: String,
        bound_on: Option<String>,
    },
    /// The logical port is disabled (`enabled=false`).
    OvnPortDisabled {
        port: String,
    },
    /// The logical port has no (or incomplete) DHCPv4 options: ovn-controller is never handed
    /// its DHCP.
    OvnNoDhcpOptions {
        port: String,
        gap: crate::topology::ovn::DhcpGap,
    },
    /// The logical port's `port_security` does not list the packet's MAC.
    OvnPortSecurity {
        port: String,
        mac: crate::mac::Mac,
        /// The logical stage that drops it (`ls_in_apply_port_sec` since OVN 22.06,
        /// `ls_in_port_sec_l2` before).
        stage: String,
    },
    /// A logical router routes the packet out of `port` by `route`.
    OvnRouted {
        router: String,
        route: String,
        port: String,
    },
    /// An OVS tunnel port: the packet leaves encapsulated, to `remote_ip`.
    TunnelPort {
        kind: String,
        remote_ip: Option<String>,
    },
    /// The destination's logical port is bound on another chassis: OVN sends the packet through
    /// the tunnel to it.
    OvnBoundElsewhere {
        port: String,
        chassis: String,
        remote_ip: String,
        tunnel: String,
    },
    /// The destination's logical port is bound on no chassis: OVN drops what is sent to it.
    OvnDestinationUnbound {
        port: String,
    },
    /// No tunnel port of the integration bridge leads to the chassis that binds the
    /// destination's logical port (`endpoints`: the chassis' tunnel endpoints).
    OvnNoTunnel {
        port: String,
        chassis: String,
        endpoints: Vec<String>,
    },
    /// The packet would leave by a localnet port whose physical network this chassis maps to
    /// no bridge (`ovn-bridge-mappings`): there is no way out, and OVN drops it.
    OvnLocalnetUnmapped {
        port: String,
        network: String,
    },
    /// The packet leaves the logical network through this logical port.
    OvnLeavesBy {
        port: String,
    },
    /// The logical router is disabled (`enabled=false`): it drops everything.
    OvnRouterDisabled {
        router: String,
    },
    /// A logical router port on the way is disabled: the router drops what crosses it.
    OvnRouterPortDisabled {
        router: String,
        port: String,
    },
    /// The logical router has no route to the address out of `toward` (`instead`: the port its
    /// routes pick).
    OvnNoRoute {
        router: String,
        dst: std::net::IpAddr,
        toward: String,
        instead: Option<String>,
    },
}

impl Note {
    /// Whether the topology itself says the packet is dropped here.
    pub fn predicts_drop(&self) -> bool {
        matches!(
            self,
            Self::DroppedByFlow { .. }
                | Self::TableMiss
                | Self::TaggedOnAccessPort { .. }
                | Self::MtuLower { .. }
                | Self::PathBreaks { .. }
                | Self::NoRoute { .. }
                | Self::BridgeVlanFiltered { .. }
                | Self::OvnPortNotBound { .. }
                | Self::OvnPortDisabled { .. }
                | Self::OvnPortSecurity { .. }
                | Self::OvnNoDhcpOptions { .. }
                | Self::OvnRouterDisabled { .. }
                | Self::OvnRouterPortDisabled { .. }
                | Self::OvnNoRoute { .. }
                | Self::OvnDestinationUnbound { .. }
                | Self::OvnNoTunnel { .. }
                | Self::OvnLocalnetUnmapped { .. }
        )
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PatchPort { peer } => write!(
                f,
                "patch port to {peer}: no netdev, inferred (the datapath crosses it in one flow)"
            ),
            Self::BridgeEndpoint => f.write_str("path starts or ends inside this bridge"),
            Self::FlowsNotRead => f.write_str("flows not read: assuming the default NORMAL flow"),
            Self::Simulation(n) => n.fmt(f),
            Self::DroppedByFlow { flow } => write!(f, "dropped by flow: {flow}"),
            Self::TableMiss => f.write_str("dropped: no flow matches (table miss)"),
            Self::ToController => f.write_str("sent to the controller: the outcome depends on it"),
            Self::OutputElsewhere { to, port, ofport } => {
                write!(f, "flow outputs to port {to}, not to {port} (ofport {ofport})")
            }
            Self::TaggedOnAccessPort { vlan, port, tag } => write!(
                f,
                "packet tagged {} arrives on access port {port} (tag {tag}): NORMAL drops it",
                fmt_vlan(*vlan)
            ),
            Self::NotTrunked { port, vlan } => {
                write!(f, "port {port} does not trunk {}", fmt_vlan(*vlan))
            }
            Self::OtherAccessVlan { vlan, port, tag } => write!(
                f,
                "packet is in {} but port {port} is an access port for VLAN {tag}: NORMAL does not forward it there",
                fmt_vlan(*vlan)
            ),
            Self::DeliveredToBridge => f.write_str("delivered to the bridge's own interface"),
            Self::VlanDeviceMismatch { device, packet } => write!(
                f,
                "VLAN device for {} but the packet carries {}",
                fmt_vlan(*device),
                fmt_vlan(*packet)
            ),
            Self::AdminDown => f.write_str("link is administratively down"),
            Self::OperDown { state } => write!(f, "link is {state}"),
            Self::BridgeNoCarrier => f.write_str("bridge has no carrier (no port forwarding yet)"),
            Self::MtuLower { mtu, earlier, at } => write!(
                f,
                "MTU {mtu} is lower than {earlier} at {at}: larger frames are dropped here"
            ),
            Self::BridgeVlanFiltered {
                port,
                vlan: None,
                leaving: false,
            } => write!(
                f,
                "untagged frames arriving on {port} are dropped: the VLAN-filtering bridge gives the port no PVID"
            ),
            Self::BridgeVlanFiltered {
                port,
                vlan,
                leaving,
            } => write!(
                f,
                "{} is not a VLAN of {port}: the VLAN-filtering bridge drops the frame {} it",
                fmt_vlan(*vlan),
                if *leaving { "instead of sending it out of" } else { "arriving on" }
            ),
            Self::PathBreaks {
                client_end,
                far,
                server_end,
            } => write!(
                f,
                "the path breaks here: the client's side ends at {client_end}, and nothing joins it to {far}, which ends at {server_end}"
            ),
            Self::RoutedOut { route } => write!(f, "routed out here by the route {route}"),
            Self::NoRoute { netns, dst } => write!(
                f,
                "namespace {netns} has no route to {dst} in its main table and does not own it: the packet goes no further"
            ),
            Self::TunnelPort { kind, remote_ip } => write!(
                f,
                "{kind} tunnel port to {}: the packet leaves the host encapsulated",
                remote_ip.as_deref().unwrap_or("a remote given per flow")
            ),
            Self::OvnPipeline
            | Self::OvnLogicalPort { .. }
            | Self::OvnPortNotBound { .. }
            | Self::OvnPortDisabled { .. }
            | Self::OvnNoDhcpOptions { .. }
            | Self::OvnPortSecurity { .. }
            | Self::OvnRouted { .. }
            | Self::OvnLeavesBy { .. }
            | Self::OvnBoundElsewhere { .. }
            | Self::OvnDestinationUnbound { .. }
            | Self::OvnNoTunnel { .. }
            | Self::OvnLocalnetUnmapped { .. }
            | Self::OvnRouterDisabled { .. }
            | Self::OvnRouterPortDisabled { .. }
            | Self::OvnNoRoute { .. } => self.fmt_ovn(f),
        }
    }
}

impl Note {
    /// The sentences of OVN's notes.
    fn fmt_ovn(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OvnPipeline => f.write_str(
                "OVN integration bridge: its flows are OVN's logical pipelines, read from OVN's databases",
            ),
            Self::OvnLogicalPort { switch, port } => {
                write!(f, "enters logical switch {switch} through logical port {port}")
            }
            Self::OvnPortNotBound {
                iface_id,
                bound_on: None,
            } => write!(
                f,
                "the port's iface-id {iface_id} names no OVN logical port: the port is not bound, and OVN drops its packets"
            ),
            Self::OvnPortNotBound {
                iface_id,
                bound_on: Some(chassis),
            } => write!(
                f,
                "logical port {iface_id} is bound on chassis {chassis}, not this one: the port is not bound here, and OVN drops its packets"
            ),
            Self::OvnPortDisabled { port } => {
                write!(f, "logical port {port} is disabled (enabled=false): OVN drops its packets")
            }
            Self::OvnNoDhcpOptions { port, gap } => write!(
                f,
                "logical port {port} {gap}: no OVN flow hands its DHCP to ovn-controller"
            ),
            Self::OvnPortSecurity { port, mac, stage } => write!(
                f,
                "logical port {port}'s port_security does not allow {mac}: OVN drops the packet in {stage}"
            ),
            Self::OvnRouted {
                router,
                route,
                port,
            } => write!(
                f,
                "logical router {router} routes it by {route} out of {port}"
            ),
            Self::OvnLeavesBy { port } => write!(f, "leaves through logical port {port}"),
            Self::OvnBoundElsewhere {
                port,
                chassis,
                remote_ip,
                tunnel,
            } => write!(
                f,
                "logical port {port} is bound on chassis {chassis}: OVN sends the packet through tunnel {tunnel} to {remote_ip}"
            ),
            Self::OvnLocalnetUnmapped { port, network } => write!(
                f,
                "the way out is localnet port {port} of physical network {network}, which this chassis' ovn-bridge-mappings map to no bridge: OVN drops the packet"
            ),
            Self::OvnDestinationUnbound { port } => write!(
                f,
                "the destination's logical port {port} is bound on no chassis: OVN drops what is sent to it"
            ),
            Self::OvnNoTunnel {
                port,
                chassis,
                endpoints,
            } => write!(
                f,
                "logical port {port} is bound on chassis {chassis}, and no tunnel of this bridge leads to it (its endpoints: {}): OVN cannot send the packet there",
                if endpoints.is_empty() { "none".to_string() } else { endpoints.join(", ") }
            ),
            Self::OvnRouterDisabled { router } => write!(
                f,
                "logical router {router} is disabled (enabled=false): it drops every packet"
            ),
            Self::OvnRouterPortDisabled { router, port } => write!(
                f,
                "logical router port {port} of {router} is disabled (enabled=false): the router drops what crosses it"
            ),
            Self::OvnNoRoute {
                router,
                dst,
                toward,
                instead,
            } => {
                write!(f, "logical router {router} has no route to {dst} out of {toward}")?;
                match instead {
                    Some(p) => write!(f, ": its routes send it out of {p}"),
                    None => f.write_str(": no network or static route holds it, and the router drops it"),
                }
            }
            _ => Ok(()),
        }
    }
}

/// What a broken path's far side leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FarSide {
    DhcpServer,
    Destination,
}

impl fmt::Display for FarSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DhcpServer => "the DHCP server's side",
            Self::Destination => "the destination's side",
        })
    }
}

impl Serialize for Note {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
