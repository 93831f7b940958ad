//! OVN, when the host runs it: the local chassis configuration, ovn-controller, the Northbound
//! and Southbound databases (each optional: a compute node often reaches only the Southbound
//! one, through `external_ids:ovn-remote`), joined into [`Ovn`]; and ovn-controller as the DHCP
//! server of every logical port with DHCPv4 options.

use std::path::Path;

use anyhow::Result;

use super::{
    model::{DhcpServer, HostEntry, ServerKind, SourceStatus, Topology},
    ovn::{Ovn, PortType},
    sources::{ovn_copp, ovn_local, ovn_nb, ovn_sb, ovsdb_rpc::Remote, untrusted::shown},
    Options,
};

/// Reads OVN into `topo.ovn` (absent: nothing of OVN on this host). A database the user named
/// must answer; a default one that does not is reported and skipped.
pub fn discover(topo: &mut Topology, opts: &Options, ovs_socket: Option<&Path>) -> Result<()> {
    let mut problems = Vec::new();
    let local = match ovs_socket.map(ovn_local::query) {
        Some(Ok(l)) => Some(l),
        Some(Err(e)) => {
            problems.push(format!("local OVS external_ids: {e:#}"));
            None
        }
        None => None,
    };
    let controller = ovn_local::controller();
    let nb = named_or_default(opts.ovn_nb.as_deref(), ovn_nb::SOCKET)?;
    let mut sb = named_or_default(opts.ovn_sb.as_deref(), ovn_sb::SOCKET)?;
    if sb.is_none() {
        // Where ovn-controller itself reads the Southbound database (the first of a list).
        if let Some(remote) = local.as_ref().and_then(|l| l.remote.as_deref()) {
            let first = remote.split(',').next().unwrap_or_default().trim();
            match Remote::parse(first) {
                Ok(remote) => {
                    sb = Some(Database {
                        remote,
                        named: false,
                    })
                }
                Err(e) => problems.push(format!("ovn-remote: {e:#}")),
            }
        }
    }
    let chassis = local.as_ref().is_some_and(|l| l.is_chassis());
    if !chassis
        && controller.pid.is_none()
        && controller.ignored.is_empty()
        && nb.is_none()
        && sb.is_none()
    {
        topo.report(
            "ovn",
            SourceStatus::Absent,
            "no OVN chassis configuration in OVSDB, no ovn-controller, no OVN database socket (use --ovn-nb/--ovn-sb)"
                .into(),
        );
        return Ok(());
    }
    let local = local.unwrap_or_default();
    let mut ovn = Ovn {
        chassis: local.system_id,
        integration_bridge: local.integration_bridge,
        bridge_mappings: local.bridge_mappings,
        encap_type: local.encap_type,
        encap_ip: local.encap_ip,
        sb_remote: local.remote.map(|r| shown(&r)),
        controller,
        ..Ovn::default()
    };
    let mut detail = Vec::new();
    let local_ports = local_ports(topo, &ovn.integration_bridge);
    read_databases(&mut ovn, (nb, sb), &local_ports, &mut detail, &mut problems)?;
    detail.push(match (ovn.controller.pid, ovn.controller.connected) {
        (Some(pid), Some(true)) => format!("ovn-controller pid {pid}, connected"),
        (Some(pid), Some(false)) => {
            format!("ovn-controller pid {pid}, NOT connected to the Southbound database")
        }
        (Some(pid), None) => format!("ovn-controller pid {pid}"),
        (None, _) => "ovn-controller not running".into(),
    });
    let status = if problems.is_empty() {
        SourceStatus::Found
    } else {
        detail.push(format!("problems: {}", problems.join("; ")));
        SourceStatus::Failed
    };
    topo.report("ovn", status, detail.join("; "));
    let server = native_dhcp(topo, &ovn);
    topo.ovn = Some(ovn);
    topo.dhcp_servers.extend(server);
    Ok(())
}

/// Reads the Northbound and Southbound databases into `ovn`, what was read into `detail` and
/// what failed into `problems`; a database the user named must answer.
fn read_databases(
    ovn: &mut Ovn,
    (nb, sb): (Option<Database>, Option<Database>),
    local_ports: &[String],
    detail: &mut Vec<String>,
    problems: &mut Vec<String>,
) -> Result<()> {
    if let Some(Database { remote, named }) = &nb {
        match ovn_nb::query(remote) {
            Ok(n) => {
                let ports: usize = n.switches.iter().map(|s| s.ports.len()).sum();
                detail.push(format!(
                    "NB {remote}: {} logical switches, {ports} ports, {} routers",
                    n.switches.len(),
                    n.routers.len()
                ));
                ovn.switches = n.switches;
                ovn.routers = n.routers;
                ovn.northbound = true;
                // Without CoPP tables (OVN before 21.06) there are no meters to name.
                if let Ok(mut copp) = ovn_copp::query(remote) {
                    for s in &mut ovn.switches {
                        s.copp = copp.remove(&s.name).unwrap_or_default();
                    }
                }
            }
            Err(e) if *named => return Err(e),
            Err(e) => problems.push(format!("{e:#}")),
        }
    } else {
        problems.push("no Northbound database reachable (--ovn-nb): logical ports, DHCP options and ACLs unknown".into());
    }
    if let Some(Database { remote, named }) = &sb {
        match ovn_sb::query(remote, local_ports) {
            Ok(s) => {
                detail.push(format!(
                    "SB {remote}: {} chassis, {} port bindings, {} drop flows in the local datapaths",
                    s.chassis.len(),
                    s.bindings.len(),
                    s.drop_flows.len()
                ));
                ovn.chassis_list = s.chassis;
                ovn.bindings = s.bindings;
                ovn.drop_flows = s.drop_flows;
                ovn.southbound = true;
            }
            Err(e) if *named => return Err(e),
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    Ok(())
}

/// The `iface-id`s of the integration bridge's interfaces: the logical ports bound here.
fn local_ports(topo: &Topology, bridge: &str) -> Vec<String> {
    topo.ovs_bridges
        .iter()
        .filter(|b| b.name == bridge)
        .flat_map(|b| b.ports.iter().flat_map(|p| &p.interfaces))
        .filter_map(|i| i.external_ids.get("iface-id").cloned())
        .collect()
}

/// An OVN database to read, and whether the user named it (then it must answer).
struct Database {
    remote: Remote,
    named: bool,
}

/// The remote the user named (which must then work), else OVN's default socket.
fn named_or_default(spec: Option<&str>, file: &str) -> Result<Option<Database>> {
    match spec {
        Some(s) => {
            let r = Remote::parse(s)?;
            anyhow::ensure!(
                r.exists(),
                "OVN database socket {r} does not exist (is its ovsdb-server running?)"
            );
            Ok(Some(Database {
                remote: r,
                named: true,
            }))
        }
        None => Ok(ovn_local::default_socket(file).map(|remote| Database {
            remote,
            named: false,
        })),
    }
}

/// ovn-controller as the DHCP server of the integration bridge: one host entry per VIF port
/// with DHCPv4 options (its MAC and first IPv4 address). `None` without an integration bridge.
fn native_dhcp(topo: &Topology, ovn: &Ovn) -> Option<DhcpServer> {
    topo.ovs_bridges
        .iter()
        .any(|b| b.name == ovn.integration_bridge)
        .then_some(())?;
    let root = topo.namespaces.first()?;
    let mut hosts = Vec::new();
    for s in &ovn.switches {
        for p in s.ports.iter().filter(|p| p.kind == PortType::Vif) {
            let Some(opts) = &p.dhcpv4 else { continue };
            for (mac, ips) in p.macs_and_ips() {
                hosts.push(HostEntry {
                    macs: vec![mac],
                    ip: ips.first().copied(),
                    hostname: None,
                    lease_time: opts.options.get("lease_time").map(|s| shown(s)),
                    ignore: false,
                    origin: format!(
                        "logical switch port {} (DHCP_Options {})",
                        shown(&p.name),
                        shown(&opts.cidr)
                    ),
                });
            }
        }
    }
    let mut problems = Vec::new();
    if ovn.controller.pid.is_none() {
        problems.push(
            "ovn-controller is not running: nothing answers DHCP on the integration bridge".into(),
        );
    }
    Some(DhcpServer {
        kind: ServerKind::OvnController,
        bridge: Some(ovn.integration_bridge.clone()),
        pid: ovn.controller.pid,
        program: "ovn-controller".into(),
        config_dir: None,
        netns: root.ino,
        netns_name: root.name.clone(),
        interfaces: Vec::new(),
        listens_on: Vec::new(),
        ranges: Vec::new(),
        hostsfiles: Vec::new(),
        hosts,
        problems,
    })
}
