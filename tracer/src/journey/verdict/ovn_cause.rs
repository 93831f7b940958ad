//! Why a packet stopped, in OVN's terms: the logical port, the stage, ovn-controller. Part of
//! [`super::cause::Cause`] (its `Ovn` variant), with the same JSON shape: `kind` plus the facts.

use std::{fmt, net::IpAddr};

use serde::Serialize;

use crate::{
    event::DhcpMessage,
    mac::Mac,
    path::Note,
    topology::ovn::{Acl, DhcpGap},
};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind")]
pub enum OvnCause {
    /// OVN drops packets of a VIF whose `iface-id` names no logical port, or a port another
    /// chassis binds.
    #[serde(rename = "ovn_port_not_bound")]
    PortNotBound {
        iface_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        bound_on: Option<String>,
        bridge: String,
    },
    /// The logical port is disabled.
    #[serde(rename = "ovn_port_disabled")]
    PortDisabled { port: String, bridge: String },
    /// The logical port's `port_security` does not allow the packet's source MAC.
    #[serde(rename = "ovn_port_security")]
    PortSecurity {
        port: String,
        mac: Mac,
        /// OVN's logical stage that drops it.
        stage: String,
        bridge: String,
    },
    /// An OpenFlow drop on the integration bridge, traced back through its cookie to the logical
    /// flow it was compiled from, and through the flow's stage-hint to the ACL that asked for it.
    #[serde(rename = "ovn_logical_drop")]
    LogicalDrop {
        bridge: String,
        /// `ls_in_acl`, `ls_out_acl`, ...
        #[serde(skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
        pipeline: String,
        table: i64,
        priority: i64,
        #[serde(rename = "match")]
        matches: String,
        actions: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        acl: Option<Box<Acl>>,
        /// The OpenFlow rule whose counter grew.
        flow: String,
    },
    /// OVN native DHCP: the client's logical port has no (or incomplete) DHCPv4 options, so no
    /// flow hands its request to ovn-controller.
    #[serde(rename = "ovn_no_dhcp_options")]
    NoDhcpOptions {
        port: String,
        gap: DhcpGap,
        bridge: String,
    },
    /// The logical router on the way is disabled.
    #[serde(rename = "ovn_router_disabled")]
    RouterDisabled { router: String, bridge: String },
    /// A port of the logical router on the way is disabled.
    #[serde(rename = "ovn_router_port_disabled")]
    RouterPortDisabled {
        router: String,
        port: String,
        bridge: String,
    },
    /// The logical router on the way has no route to the destination out of the port that
    /// leads to it (`instead`: the port its routes pick).
    #[serde(rename = "ovn_no_route")]
    NoRoute {
        router: String,
        dst: IpAddr,
        /// The router port that leads towards the destination.
        toward: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        instead: Option<String>,
        bridge: String,
    },
    /// The destination's logical port is bound on no chassis.
    #[serde(rename = "ovn_destination_unbound")]
    DestinationUnbound { port: String, bridge: String },
    /// No tunnel of the integration bridge leads to the chassis that binds the destination's
    /// logical port.
    #[serde(rename = "ovn_no_tunnel")]
    NoTunnel {
        port: String,
        chassis: String,
        endpoints: Vec<String>,
        bridge: String,
    },
    /// The way out is a localnet port whose physical network has no bridge mapping here.
    #[serde(rename = "ovn_localnet_unmapped")]
    LocalnetUnmapped {
        port: String,
        network: String,
        bridge: String,
    },
    /// OVN native DHCP: the request handed to ovn-controller was dropped by the meter of the
    /// switch's control-plane protection (the kernel says `OVS_DROP_METER`).
    #[serde(rename = "ovn_copp_meter")]
    CoppMeter {
        switch: String,
        meter: String,
        /// The meter's rate, in `unit` (`pktps`, `kbps`), and burst.
        rate: i64,
        unit: String,
        burst: i64,
        bridge: String,
    },
    /// OVN native DHCP: ovn-controller should have answered and is not running.
    #[serde(rename = "ovn_controller_down")]
    ControllerDown {
        after: DhcpMessage,
        /// The client's logical port.
        #[serde(skip_serializing_if = "Option::is_none")]
        port: Option<String>,
        /// The ovn-controller that ran when pathtrace started, gone since.
        #[serde(skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
        bridge: String,
    },
    /// OVN native DHCP: ovn-controller runs but is not connected to the Southbound database.
    #[serde(rename = "ovn_controller_disconnected")]
    ControllerDisconnected { after: DhcpMessage, pid: u32 },
}

impl OvnCause {
    /// The integration bridge where OVN stopped the packet, for a drop there.
    pub fn bridge(&self) -> Option<&String> {
        match self {
            Self::LogicalDrop { bridge, .. }
            | Self::PortNotBound { bridge, .. }
            | Self::PortDisabled { bridge, .. }
            | Self::PortSecurity { bridge, .. }
            | Self::NoDhcpOptions { bridge, .. }
            | Self::RouterDisabled { bridge, .. }
            | Self::RouterPortDisabled { bridge, .. }
            | Self::NoRoute { bridge, .. }
            | Self::DestinationUnbound { bridge, .. }
            | Self::NoTunnel { bridge, .. }
            | Self::LocalnetUnmapped { bridge, .. }
            | Self::CoppMeter { bridge, .. } => Some(bridge),
            Self::ControllerDown { .. } | Self::ControllerDisconnected { .. } => None,
        }
    }
}

impl OvnCause {
    /// The cause a path's note on integration bridge `bridge` (or a logical hop it runs)
    /// predicts, if it predicts a drop.
    pub fn from_note(note: &Note, bridge: &str) -> Option<Self> {
        let bridge = bridge.to_string();
        Some(match note.clone() {
            Note::OvnPortNotBound { iface_id, bound_on } => Self::PortNotBound {
                iface_id,
                bound_on,
                bridge,
            },
            Note::OvnPortDisabled { port } => Self::PortDisabled { port, bridge },
            Note::OvnPortSecurity { port, mac, stage } => Self::PortSecurity {
                port,
                mac,
                stage,
                bridge,
            },
            Note::OvnNoDhcpOptions { port, gap } => Self::NoDhcpOptions { port, gap, bridge },
            Note::OvnRouterDisabled { router } => Self::RouterDisabled { router, bridge },
            Note::OvnRouterPortDisabled { router, port } => Self::RouterPortDisabled {
                router,
                port,
                bridge,
            },
            Note::OvnNoRoute {
                router,
                dst,
                toward,
                instead,
            } => Self::NoRoute {
                router,
                dst,
                toward,
                instead,
                bridge,
            },
            Note::OvnDestinationUnbound { port } => Self::DestinationUnbound { port, bridge },
            Note::OvnNoTunnel {
                port,
                chassis,
                endpoints,
            } => Self::NoTunnel {
                port,
                chassis,
                endpoints,
                bridge,
            },
            Note::OvnLocalnetUnmapped { port, network } => Self::LocalnetUnmapped {
                port,
                network,
                bridge,
            },
            _ => return None,
        })
    }

    /// The path's note that predicted this stop, for the causes that are one.
    fn as_note(&self) -> Option<Note> {
        Some(match self {
            Self::NoDhcpOptions { port, gap, .. } => Note::OvnNoDhcpOptions {
                port: port.clone(),
                gap: gap.clone(),
            },
            Self::PortNotBound {
                iface_id, bound_on, ..
            } => Note::OvnPortNotBound {
                iface_id: iface_id.clone(),
                bound_on: bound_on.clone(),
            },
            Self::PortDisabled { port, .. } => Note::OvnPortDisabled { port: port.clone() },
            Self::PortSecurity {
                port, mac, stage, ..
            } => Note::OvnPortSecurity {
                port: port.clone(),
                mac: *mac,
                stage: stage.clone(),
            },
            Self::RouterDisabled { router, .. } => Note::OvnRouterDisabled {
                router: router.clone(),
            },
            Self::RouterPortDisabled { router, port, .. } => Note::OvnRouterPortDisabled {
                router: router.clone(),
                port: port.clone(),
            },
            Self::NoRoute {
                router,
                dst,
                toward,
                instead,
                ..
            } => Note::OvnNoRoute {
                router: router.clone(),
                dst: *dst,
                toward: toward.clone(),
                instead: instead.clone(),
            },
            Self::DestinationUnbound { port, .. } => {
                Note::OvnDestinationUnbound { port: port.clone() }
            }
            Self::NoTunnel {
                port,
                chassis,
                endpoints,
                ..
            } => Note::OvnNoTunnel {
                port: port.clone(),
                chassis: chassis.clone(),
                endpoints: endpoints.clone(),
            },
            Self::LocalnetUnmapped { port, network, .. } => Note::OvnLocalnetUnmapped {
                port: port.clone(),
                network: network.clone(),
            },
            Self::LogicalDrop { .. }
            | Self::CoppMeter { .. }
            | Self::ControllerDown { .. }
            | Self::ControllerDisconnected { .. } => return None,
        })
    }
}

impl fmt::Display for OvnCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LogicalDrop {
                bridge,
                stage,
                pipeline,
                table,
                priority,
                matches,
                acl,
                ..
            } => {
                let stage = stage.as_deref().unwrap_or("?");
                write!(
                    f,
                    "OVN drop on {bridge} in stage {stage} ({pipeline} table {table})"
                )?;
                match acl {
                    Some(a) => write!(
                        f,
                        ": ACL {} priority {} '{}' {}{}",
                        a.direction,
                        a.priority,
                        a.matches,
                        a.action,
                        a.port_group
                            .as_ref()
                            .map_or(String::new(), |g| format!(" (port group {g})"))
                    ),
                    None => write!(f, ": logical flow priority {priority} '{matches}'"),
                }
            }
            Self::CoppMeter {
                switch,
                meter,
                rate,
                unit,
                burst,
                bridge,
            } => write!(
                f,
                "OVN on {bridge}: the DHCP request was dropped by CoPP meter {meter} of logical switch {switch} ({rate} {unit}, burst {burst}) on its way to ovn-controller"
            ),
            Self::ControllerDown {
                after,
                port,
                pid,
                bridge,
            } => {
                write!(
                    f,
                    "no reply from the DHCP server: the {after} reached {bridge}, whose OVN flows hand DHCP to ovn-controller"
                )?;
                if let Some(p) = port {
                    write!(f, " (native DHCP of logical port {p})")?;
                }
                match pid {
                    Some(pid) => write!(f, ", but ovn-controller pid {pid} is gone"),
                    None => f.write_str(", but ovn-controller is not running"),
                }
            }
            Self::ControllerDisconnected { after, pid } => write!(
                f,
                "no reply from the DHCP server: ovn-controller pid {pid} received no {after} it could answer: it is not connected to the OVN Southbound database"
            ),
            // The rest say what the path's note said, where.
            other => {
                if matches!(other, Self::NoDhcpOptions { .. }) {
                    f.write_str("no reply from the DHCP server: ")?;
                }
                let bridge = other.bridge().map_or("", String::as_str);
                match other.as_note() {
                    Some(note) => write!(f, "OVN on {bridge}: {note}"),
                    None => write!(f, "OVN on {bridge}"),
                }
            }
        }
    }
}
