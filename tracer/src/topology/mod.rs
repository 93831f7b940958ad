//! Static topology discovery: one [`Topology`] built from independent sources, each of which
//! may be absent, and the typed [`graph::Graph`] derived from it. Nothing else in pathtrace talks
//! to OVSDB or reads libvirt/dnsmasq state. Imports only namespaces, netlink and `mac`.

pub mod bond;
pub mod dhcp_range;
pub mod graph;
pub mod model;
pub mod ovn;
pub mod ovn_client;
mod ovn_discovery;
pub mod ovn_routing;
pub mod routing;
pub mod sources;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};

pub use model::{
    Action, BridgeVlans, DhcpServer, Flow, IfaceKey, Interface, LinkKind, OperState, SourceReport,
    SourceStatus, Topology,
};
use sources::{
    dnsmasq, libvirt, libvirt_dnsmasq, links, neutron_dhcp, openflow, ovsdb,
    untrusted::{self, shown},
};
pub use sources::{
    libvirt_dnsmasq::DEFAULT_DIR as LIBVIRT_DNSMASQ_DIR,
    neutron_dhcp::DEFAULT_DIR as NEUTRON_DHCP_DIR, openflow::parse_int as parse_openflow_int,
};

use crate::netns::NetnsTable;

#[derive(Clone, Debug)]
pub struct Options {
    /// OVSDB socket given by the user: it must work. `None`: look in the default places.
    pub ovsdb: Option<String>,
    /// Domain XML files or directories; empty: libvirt's and Nova's default places.
    pub libvirt_xml: Vec<PathBuf>,
    /// Neutron DHCP agent state directory, read for `qdhcp-` namespaces without a dnsmasq.
    pub neutron_dhcp_dir: PathBuf,
    /// libvirt's dnsmasq configuration directory, read for networks without a dnsmasq.
    pub libvirt_dnsmasq_dir: PathBuf,
    /// OVN Northbound database given by the user (`unix:PATH`, `tcp:HOST:PORT`): it must work.
    /// `None`: OVN's default socket, if any.
    pub ovn_nb: Option<String>,
    /// OVN Southbound database; `None`: the default socket, else the chassis' `ovn-remote`.
    pub ovn_sb: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            ovsdb: None,
            libvirt_xml: Vec::new(),
            neutron_dhcp_dir: neutron_dhcp::DEFAULT_DIR.into(),
            libvirt_dnsmasq_dir: libvirt_dnsmasq::DEFAULT_DIR.into(),
            ovn_nb: None,
            ovn_sb: None,
        }
    }
}

pub fn discover(opts: &Options) -> Result<Topology> {
    let mut topo = Topology::default();
    let table = NetnsTable::discover()?;
    discover_links(&mut topo, &table)?;
    let ovs_socket = discover_ovs(&mut topo, opts)?;
    let bridges: Vec<String> = topo.ovs_bridges.iter().map(|b| b.name.clone()).collect();
    let rundir = ovs_socket.as_deref().and_then(Path::parent);
    // The sources left are independent and mostly wait (on other processes, databases and
    // /proc), so they run at once. `ovs-ofctl` is a process per bridge, the slowest of them to
    // start (it links fifteen libraries); OVN reads only the namespaces and the bridges' ports.
    std::thread::scope(|scope| {
        let dumps = rundir.map(|rundir| openflow::spawn_dumps(scope, rundir, &bridges));
        let mut ovn_view = Topology {
            namespaces: topo.namespaces.clone(),
            ovs_bridges: topo.ovs_bridges.clone(),
            ..Topology::default()
        };
        let socket = ovs_socket.as_deref();
        let ovn = scope
            .spawn(move || ovn_discovery::discover(&mut ovn_view, opts, socket).map(|()| ovn_view));
        let openflow_report_at = topo.sources.len();
        discover_vms(&mut topo, opts);
        discover_dhcp(&mut topo, opts);
        let ovn_view = ovn
            .join()
            .map_err(|_| anyhow::anyhow!("OVN discovery panicked"))??;
        topo.sources.extend(ovn_view.sources);
        topo.dhcp_servers.extend(ovn_view.dhcp_servers);
        topo.ovn = ovn_view.ovn;
        if let Some(dumps) = dumps {
            take_flows(&mut topo, dumps.join(), openflow_report_at);
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(topo)
}

/// Puts each bridge's dumped flows on it, and reports the OpenFlow source at `report_at`, where
/// it would be had the dumps run in turn.
fn take_flows(topo: &mut Topology, dumps: Vec<Result<Vec<Flow>>>, report_at: usize) {
    let mut failures = Vec::new();
    let mut flows = 0;
    for (b, dump) in topo.ovs_bridges.iter_mut().zip(dumps) {
        match dump {
            Ok(f) => {
                flows += f.len();
                b.flows = f;
            }
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    let bridges = topo.ovs_bridges.len();
    let (status, detail) = if failures.is_empty() {
        (
            SourceStatus::Found,
            format!("{flows} flows in {bridges} bridges"),
        )
    } else {
        (SourceStatus::Failed, failures.join("; "))
    };
    let report = SourceReport {
        source: "openflow".into(),
        status,
        detail,
    };
    topo.sources
        .insert(report_at.min(topo.sources.len()), report);
}

fn discover_links(topo: &mut Topology, table: &NetnsTable) -> Result<()> {
    let found = links::discover(table)?;
    topo.namespaces = found.namespaces;
    // The host's own namespace first, then by name, so that output is stable.
    let own = table.own().ino;
    topo.namespaces
        .sort_by_key(|n| (n.ino != own, n.name.starts_with("pid:"), n.name.clone()));
    topo.interfaces = found.interfaces;
    let order: HashMap<u32, usize> = topo
        .namespaces
        .iter()
        .enumerate()
        .map(|(i, n)| (n.ino, i))
        .collect();
    topo.interfaces
        .sort_by_key(|i| (order.get(&i.key.netns).copied(), i.key.ifindex));
    let mut detail = format!(
        "{} links in {} namespaces",
        topo.interfaces.len(),
        topo.namespaces.len()
    );
    if !found.skipped.is_empty() {
        detail += &format!(
            "; skipped (gone while reading): {}",
            found.skipped.join("; ")
        );
    }
    topo.report("netlink", SourceStatus::Found, detail);
    Ok(())
}

/// Reads Open vSwitch's database; returns the OVSDB socket it read, if any. The bridges' flows
/// are dumped later, beside the other sources.
fn discover_ovs(topo: &mut Topology, opts: &Options) -> Result<Option<PathBuf>> {
    let socket = match &opts.ovsdb {
        Some(spec) => {
            let path = ovsdb::socket_path(spec)?;
            anyhow::ensure!(
                path.exists(),
                "OVSDB socket {} does not exist (is ovsdb-server running? --ovsdb names its unix socket)",
                path.display()
            );
            path
        }
        None => match ovsdb::default_socket() {
            Some(p) => p,
            None => {
                topo.report(
                    "ovsdb",
                    SourceStatus::Absent,
                    "no ovsdb-server socket in $OVS_RUNDIR, /run/openvswitch, /var/run/openvswitch or /usr/local/var/run/openvswitch (use --ovsdb PATH)".into(),
                );
                return Ok(None);
            }
        },
    };
    let bridges = match ovsdb::query(&socket).and_then(|r| ovsdb::parse_reply(&r)) {
        Ok(b) => b,
        // A socket the user named must work; a stale default one is reported and skipped.
        Err(e) if opts.ovsdb.is_some() => return Err(e),
        Err(e) => {
            topo.report("ovsdb", SourceStatus::Failed, format!("{e:#}"));
            return Ok(None);
        }
    };
    topo.ovs_bridges = bridges;
    let ports: usize = topo.ovs_bridges.iter().map(|b| b.ports.len()).sum();
    topo.report(
        "ovsdb",
        SourceStatus::Found,
        format!(
            "{} bridges, {ports} ports from {}",
            topo.ovs_bridges.len(),
            socket.display()
        ),
    );
    resolve_ovs_netdevs(topo);
    Ok(Some(socket))
}

/// Links the OVS interfaces that are netdevs (system and internal ports) to kernel links. A
/// system port lives where ovs-vswitchd runs and is enslaved to `ovs-system`; an internal port
/// may have been moved to another namespace (a Neutron qdhcp tap), where it keeps its kind.
fn resolve_ovs_netdevs(topo: &mut Topology) {
    let mut by_name: HashMap<&str, Vec<&Interface>> = HashMap::new();
    for i in &topo.interfaces {
        by_name.entry(i.name.as_str()).or_default().push(i);
    }
    let is_ovs_slave = |i: &Interface| {
        i.master
            .and_then(|m| topo.interface(m))
            .is_some_and(|m| m.kind == LinkKind::Openvswitch)
    };
    let mut found = Vec::new();
    for (bi, b) in topo.ovs_bridges.iter().enumerate() {
        for (pi, p) in b.ports.iter().enumerate() {
            for (ii, iface) in p.interfaces.iter().enumerate() {
                if iface.is_patch() {
                    continue;
                }
                let candidates = by_name.get(iface.name.as_str());
                let pick = candidates.and_then(|c| {
                    c.iter()
                        .find(|i| i.kind == LinkKind::Openvswitch || is_ovs_slave(i))
                        .map(|i| i.key)
                });
                if let Some(k) = pick {
                    found.push((bi, pi, ii, k));
                }
            }
        }
    }
    for (bi, pi, ii, k) in found {
        topo.ovs_bridges[bi].ports[pi].interfaces[ii].netdev = Some(k);
    }
}

fn discover_vms(topo: &mut Topology, opts: &Options) {
    let dirs: Vec<PathBuf> = if opts.libvirt_xml.is_empty() {
        libvirt::DEFAULT_DIRS.iter().map(PathBuf::from).collect()
    } else {
        opts.libvirt_xml.clone()
    };
    let files = libvirt::xml_files(&dirs);
    if files.is_empty() {
        let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        topo.report(
            "libvirt",
            SourceStatus::Absent,
            format!("no domain XML in {}", looked.join(", ")),
        );
        return;
    }
    let mut problems = Vec::new();
    for f in &files {
        match libvirt::read(f) {
            Ok(mut vm) => {
                for nic in &mut vm.nics {
                    nic.netdev = nic
                        .target_dev
                        .as_deref()
                        .and_then(|dev| find_tap(topo, dev, nic.mac));
                }
                topo.vms.push(vm);
            }
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    let status = if problems.is_empty() {
        SourceStatus::Found
    } else {
        SourceStatus::Failed
    };
    let mut detail = format!("{} domains from {} files", topo.vms.len(), files.len());
    if !problems.is_empty() {
        detail += &format!("; unreadable: {}", problems.join("; "));
    }
    topo.report("libvirt", status, detail);
}

/// The host link behind a VM NIC. Tap names repeat across pods (`tap0` in every
/// virt-launcher), so prefer the one whose MAC libvirt derived from the guest's (first byte
/// 0xfe, the rest equal).
fn find_tap(topo: &Topology, dev: &str, guest: crate::mac::Mac) -> Option<IfaceKey> {
    let mut derived = guest.0;
    derived[0] = 0xfe;
    let named: Vec<&Interface> = topo.interfaces.iter().filter(|i| i.name == dev).collect();
    named
        .iter()
        .find(|i| i.mac.map(|m| m.0) == Some(derived))
        .or_else(|| named.first())
        .map(|i| i.key)
}

fn discover_dhcp(topo: &mut Topology, opts: &Options) {
    let found = dnsmasq::processes();
    let procs = found.trusted;
    for p in &procs {
        let (cfg, mut problems) = dnsmasq::parse_args(&p.args, &|f| dnsmasq::read_as(p.pid, f));
        let mut hosts = cfg.hosts;
        for file in &cfg.hostsfiles {
            match read_hosts(p.pid, file) {
                Ok(h) => hosts.extend(h),
                Err(e) => problems.push(format!("{e:#}")),
            }
        }
        let netns = p.netns.unwrap_or(0);
        let listens_on = listening(topo, netns, &cfg.interfaces);
        topo.dhcp_servers.push(model::DhcpServer {
            kind: model::ServerKind::Dnsmasq,
            bridge: None,
            pid: Some(p.pid),
            program: "dnsmasq".into(),
            config_dir: None,
            netns,
            netns_name: topo.netns_name(netns),
            // What the command line said, shown back only escaped and short.
            interfaces: cfg.interfaces.iter().map(|s| shown(s)).collect(),
            listens_on,
            ranges: cfg.ranges.iter().map(|s| shown(s)).collect(),
            hostsfiles: cfg.hostsfiles.iter().map(|s| shown(s)).collect(),
            hosts,
            problems,
        });
    }
    let silent = silent_neutron_networks(topo, &opts.neutron_dhcp_dir)
        + silent_libvirt_networks(topo, &opts.libvirt_dnsmasq_dir);
    let ignored = match found.ignored.as_slice() {
        [] => String::new(),
        pids => format!(
            "; ignored {} process(es) called dnsmasq that root did not start (pid {})",
            pids.len(),
            pids.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let detail = match (procs.len(), silent) {
        (0, 0) if !ignored.is_empty() => format!("no dnsmasq process{ignored}"),
        (0, 0) => {
            topo.report(
                "dnsmasq",
                SourceStatus::Absent,
                "no dnsmasq process running, no qdhcp- namespace".into(),
            );
            return;
        }
        (n, 0) => format!("{n} dnsmasq processes{ignored}"),
        (n, s) => {
            format!("{n} dnsmasq processes; {s} Neutron or libvirt networks without one{ignored}")
        }
    };
    topo.report("dnsmasq", SourceStatus::Found, detail);
}

/// Links of `netns` a server bound to `names` (empty: all) listens on.
fn listening(topo: &Topology, netns: u32, names: &[String]) -> Vec<IfaceKey> {
    topo.interfaces
        .iter()
        .filter(|i| i.key.netns == netns && i.kind != LinkKind::Loopback)
        .filter(|i| names.is_empty() || names.contains(&i.name))
        .map(|i| i.key)
        .collect()
}

/// A Neutron DHCP namespace without a dnsmasq still marks where the server should listen:
/// adds it as a server that is not running, with the agent's host entries. Returns how many.
fn silent_neutron_networks(topo: &mut Topology, neutron_dir: &std::path::Path) -> usize {
    let mut added = 0;
    for ns in topo.namespaces.clone() {
        let Some(network) = neutron_dhcp::network_of(&ns.name) else {
            continue;
        };
        if topo.dhcp_servers.iter().any(|d| d.netns == ns.ino) {
            continue;
        }
        let state = neutron_dhcp::read(neutron_dir, network);
        let interfaces: Vec<String> = state.interface.into_iter().collect();
        let mut problems = state.problems;
        problems.push(match state.last_pid {
            Some(pid) => format!("no dnsmasq runs in {} (its pid file names {pid})", ns.name),
            None => format!("no dnsmasq runs in {}", ns.name),
        });
        topo.dhcp_servers.push(model::DhcpServer {
            kind: model::ServerKind::Dnsmasq,
            bridge: None,
            pid: None,
            program: "dnsmasq".into(),
            config_dir: state.dir,
            netns: ns.ino,
            netns_name: ns.name.clone(),
            listens_on: listening(topo, ns.ino, &interfaces),
            interfaces,
            ranges: Vec::new(),
            hostsfiles: state.hostsfile.into_iter().collect(),
            hosts: state.hosts,
            problems,
        });
        added += 1;
    }
    added
}

/// A libvirt network whose dnsmasq is not running still says where its server should listen
/// (its conf file's `interface`, in the namespace that has it, the host's first): adds it as
/// a server that is not running, with the network's host entries. Returns how many.
fn silent_libvirt_networks(topo: &mut Topology, dir: &std::path::Path) -> usize {
    let mut added = 0;
    for net in libvirt_dnsmasq::configured(dir) {
        let Some(bridge) = net.config.interfaces.first() else {
            continue;
        };
        // `namespaces` has the host's own first.
        let Some(netns) = topo.namespaces.iter().map(|n| n.ino).find(|ino| {
            topo.interfaces
                .iter()
                .any(|i| i.key.netns == *ino && i.name == *bridge)
        }) else {
            continue;
        };
        let served = topo.dhcp_servers.iter().any(|d| {
            d.netns == netns && d.interfaces.iter().any(|i| i == bridge)
                || d.hostsfiles
                    .iter()
                    .any(|h| net.config.hostsfiles.contains(h))
        });
        if served {
            continue;
        }
        let mut problems = net.problems;
        problems.push(format!(
            "no dnsmasq runs for the libvirt network of {}",
            shown(&net.conf)
        ));
        topo.dhcp_servers.push(model::DhcpServer {
            kind: model::ServerKind::Dnsmasq,
            bridge: None,
            pid: None,
            program: "dnsmasq".into(),
            config_dir: Some(shown(&net.conf)),
            netns,
            netns_name: topo.netns_name(netns),
            listens_on: listening(topo, netns, &net.config.interfaces),
            interfaces: net.config.interfaces.iter().map(|s| shown(s)).collect(),
            ranges: net.config.ranges.iter().map(|s| shown(s)).collect(),
            hostsfiles: net.config.hostsfiles.iter().map(|s| shown(s)).collect(),
            hosts: net.config.hosts,
            problems,
        });
        added += 1;
    }
    added
}

/// A `--dhcp-hostsfile` (a file) or `--dhcp-hostsdir` (every file in it).
/// A `--dhcp-hostsfile` (a file) or `--dhcp-hostsdir` (every file in it), read inside the
/// process's root.
fn read_hosts(pid: u32, path: &str) -> Result<Vec<model::HostEntry>> {
    let root = dnsmasq::root_of(pid);
    let read = |file: &str| {
        untrusted::read_in_root(&root, file)
            .and_then(|text| dnsmasq::parse_hostsfile(&text, file))
            .with_context(|| format!("cannot read {}", shown(file)))
    };
    if !untrusted::is_dir_in_root(&root, path) {
        return read(path);
    }
    let mut out = Vec::new();
    let names = untrusted::list_in_root(&root, path)
        .with_context(|| format!("cannot list {}", shown(path)))?;
    for name in names {
        out.extend(read(&format!("{}/{name}", path.trim_end_matches('/')))?);
    }
    Ok(out)
}
