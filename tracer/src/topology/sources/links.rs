//! Links, addresses, routes and neighbours of every network namespace, over rtnetlink.
//!
//! One netlink socket per namespace, opened from inside it (a socket stays bound to the
//! namespace it was created in), then one dump each (links, addresses, main-table routes,
//! neighbours). No process is spawned.
//! A namespace's socket and file are open only while it is being asked something: the
//! descriptors in use stay a handful whatever the number of namespaces (one pair kept per
//! namespace ran out of files, EMFILE, above ~500 and silently lost namespaces).
//!
//! A veth's peer, or a VLAN/macvlan's lower device, may live in another namespace: the kernel
//! reports its ifindex plus a *netnsid*, an id that is only meaningful inside the reporting
//! namespace. To turn it into a namespace we ask the reporting namespace for the id it gives
//! each candidate (RTM_GETNSID with the candidate's fd), and only for candidates that hold a
//! link with that ifindex, so the cost stays linear in the number of cross-namespace links.

use std::{
    collections::{BTreeMap, HashMap},
    os::fd::AsRawFd as _,
};

use anyhow::Result;
use netlink_packet_route::{
    address::{AddressAttribute, AddressMessage},
    link::{
        AfSpecBridge, BridgeVlanInfoFlags, InfoBond, InfoBridge, InfoData, InfoGeneve, InfoKind,
        InfoVlan, InfoVxlan, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo, LinkMessage,
        State,
    },
    nsid::{NsidAttribute, NsidMessage},
    AddressFamily, RouteNetlinkMessage,
};

use super::ip_layer;
use crate::{
    mac::Mac,
    netlink::Rtnetlink,
    netns::{open_verified, Netns, NetnsGuard, NetnsTable},
    topology::{
        bond::{BondMode, LinuxBond},
        model::{BridgeVlans, IfaceKey, Interface, LinkKind, Namespace, OperState},
        routing::{Neighbour, Route},
    },
};

/// What one namespace reported, before cross-namespace references are resolved.
struct RawLink {
    iface: Interface,
    /// IFLA_LINK: peer or lower device ifindex.
    link_index: Option<u32>,
    /// IFLA_LINK_NETNSID: the namespace of `link_index`, as an id of this namespace.
    link_netnsid: Option<i32>,
}

struct NamespaceLinks {
    netns: Netns,
    links: Vec<RawLink>,
    routes: Vec<Route>,
    neighbours: Vec<Neighbour>,
}

pub struct Discovered {
    pub namespaces: Vec<Namespace>,
    pub interfaces: Vec<Interface>,
    /// Namespaces that vanished or could not be entered while we looked, with the reason.
    pub skipped: Vec<String>,
}

/// Threads reading namespaces at once: each dump is a few system calls that wait on the
/// kernel, and a host with hundreds of namespaces spent most of its discovery in them.
const READERS: usize = 4;

/// Reads every namespace, a few at once, each on the thread that entered it; the results in
/// the table's order.
fn read_all(table: &NetnsTable) -> Vec<(&Netns, Result<NamespaceLinks>)> {
    let all: Vec<&Netns> = table.all().collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let readers = READERS.min(all.len()).max(1);
    let mut read: Vec<(usize, Result<NamespaceLinks>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..readers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(netns) = all.get(i) else {
                            return mine;
                        };
                        mine.push((i, read_namespace(netns)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    read.sort_by_key(|(i, _)| *i);
    read.into_iter()
        .filter_map(|(i, r)| Some((*all.get(i)?, r)))
        .collect()
}

/// Reads every namespace in `table`.
pub fn discover(table: &NetnsTable) -> Result<Discovered> {
    let mut per_ns = Vec::new();
    let mut skipped = Vec::new();
    for (netns, read) in read_all(table) {
        match read {
            Ok(n) => per_ns.push(n),
            // Out of descriptors is this process's limit, not a namespace that went away:
            // skipping would silently lose namespaces and hops.
            Err(e) if out_of_files(&e) => return Err(e),
            // A container that exits between the /proc scan and now is normal on a busy
            // host; the host's own namespace failing is not.
            Err(e) if netns.name != crate::netns::OWN_NETNS_LABEL => {
                skipped.push(format!("{}: {e:#}", netns.name))
            }
            Err(e) => return Err(e),
        }
    }
    let links_by_index = index_by_ifindex(&per_ns);
    let mut nsid_cache: HashMap<(u32, i32), Option<u32>> = HashMap::new();
    let mut interfaces = Vec::new();
    for i in 0..per_ns.len() {
        let own = per_ns[i].netns.ino;
        // Asked on the first cross-namespace link of this namespace, closed after its links.
        let mut asker = NsidAsker::default();
        for j in 0..per_ns[i].links.len() {
            let (index, nsid) = {
                let raw = &per_ns[i].links[j];
                (raw.link_index, raw.link_netnsid)
            };
            let link = match (index, nsid) {
                // Physical NICs report themselves as their own lower device (iflink ==
                // ifindex); a veth peer in another namespace may have the same index, but
                // then comes with a netnsid.
                (Some(index), None) if index == per_ns[i].links[j].iface.key.ifindex => None,
                (Some(index), None) => Some(IfaceKey {
                    netns: own,
                    ifindex: index,
                }),
                (Some(index), Some(nsid)) => {
                    let target = match nsid_cache.get(&(own, nsid)) {
                        Some(t) => *t,
                        None => {
                            let t =
                                resolve_nsid(&per_ns, i, &mut asker, nsid, index, &links_by_index);
                            nsid_cache.insert((own, nsid), t);
                            t
                        }
                    };
                    target.map(|netns| IfaceKey {
                        netns,
                        ifindex: index,
                    })
                }
                _ => None,
            };
            let mut iface = per_ns[i].links[j].iface.clone();
            iface.link = link;
            interfaces.push(iface);
        }
    }
    let namespaces = per_ns
        .into_iter()
        .map(|n| Namespace {
            ino: n.netns.ino,
            name: n.netns.name,
            routes: n.routes,
            neighbours: n.neighbours,
        })
        .collect();
    Ok(Discovered {
        namespaces,
        interfaces,
        skipped,
    })
}

/// Whether `e` is this process running out of file descriptors.
fn out_of_files(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .is_some_and(|errno| errno == libc::EMFILE || errno == libc::ENFILE)
    })
}

/// A netlink socket bound to `netns`.
fn socket_in(netns: &Netns) -> Result<Rtnetlink> {
    let _inside = NetnsGuard::enter(netns)?;
    Rtnetlink::open()
}

fn read_namespace(netns: &Netns) -> Result<NamespaceLinks> {
    let mut socket = socket_in(netns)?;
    let mut links = Vec::new();
    for msg in socket.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))? {
        if let RouteNetlinkMessage::NewLink(m) = msg {
            links.push(parse_link(&m, netns));
        }
    }
    let mut addresses: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for msg in socket.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))? {
        if let RouteNetlinkMessage::NewAddress(m) = msg {
            let addr = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            });
            if let Some(ip) = addr {
                addresses
                    .entry(m.header.index)
                    .or_default()
                    .push(format!("{ip}/{}", m.header.prefix_len));
            }
        }
    }
    for raw in &mut links {
        if let Some(a) = addresses.remove(&raw.iface.key.ifindex) {
            raw.iface.addresses = a;
        }
    }
    if links.iter().any(|l| l.iface.kind == LinkKind::Bridge) {
        let mut vlans = bridge_vlans(&mut socket)?;
        for raw in &mut links {
            raw.iface.bridge_vlans = vlans.remove(&raw.iface.key.ifindex);
        }
    }
    let routes = ip_layer::routes(&mut socket)?;
    let neighbours = ip_layer::neighbours(&mut socket)?;
    Ok(NamespaceLinks {
        netns: netns.clone(),
        links,
        routes,
        neighbours,
    })
}

/// The VLAN table of every Linux bridge port (and bridge) of the socket's namespace: the
/// AF_BRIDGE link dump with `RTEXT_FILTER_BRVLAN`, one entry per VLAN.
fn bridge_vlans(socket: &mut Rtnetlink) -> Result<BTreeMap<u32, BridgeVlans>> {
    let mut request = LinkMessage::default();
    request.header.interface_family = AddressFamily::Bridge;
    request
        .attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::Brvlan]));
    let mut out: BTreeMap<u32, BridgeVlans> = BTreeMap::new();
    for msg in socket.dump(RouteNetlinkMessage::GetLink(request))? {
        let RouteNetlinkMessage::NewLink(m) = msg else {
            continue;
        };
        for attr in &m.attributes {
            let LinkAttribute::AfSpecBridge(spec) = attr else {
                continue;
            };
            for entry in spec {
                let AfSpecBridge::VlanInfo(v) = entry else {
                    continue;
                };
                let port = out.entry(m.header.index).or_default();
                port.vids.push(v.vid);
                if v.flags.contains(BridgeVlanInfoFlags::Pvid) {
                    port.pvid = Some(v.vid);
                }
                if v.flags.contains(BridgeVlanInfoFlags::Untagged) {
                    port.untagged.push(v.vid);
                }
            }
        }
    }
    Ok(out)
}

fn parse_link(m: &LinkMessage, netns: &Netns) -> RawLink {
    let mut iface = Interface {
        key: IfaceKey {
            netns: netns.ino,
            ifindex: m.header.index,
        },
        netns_name: netns.name.clone(),
        name: String::new(),
        kind: LinkKind::Physical,
        kind_name: None,
        mac: None,
        mtu: 0,
        oper_state: OperState::Unknown,
        admin_up: m.header.flags.contains(LinkFlags::Up),
        master: None,
        link: None,
        vlan_id: None,
        vni: None,
        addresses: Vec::new(),
        vlan_filtering: false,
        bridge_vlans: None,
        bond: None,
    };
    if m.header.flags.contains(LinkFlags::Loopback) {
        iface.kind = LinkKind::Loopback;
    }
    let mut link_index = None;
    let mut link_netnsid = None;
    for attr in &m.attributes {
        match attr {
            LinkAttribute::IfName(n) => iface.name = n.clone(),
            LinkAttribute::Mtu(mtu) => iface.mtu = *mtu,
            LinkAttribute::Address(a) if a.len() == 6 => {
                let mut mac = [0; 6];
                mac.copy_from_slice(a);
                iface.mac = Some(Mac(mac));
            }
            LinkAttribute::OperState(s) => iface.oper_state = oper_state(*s),
            LinkAttribute::Controller(master) => {
                iface.master = Some(IfaceKey {
                    netns: netns.ino,
                    ifindex: *master,
                })
            }
            LinkAttribute::Link(l) if *l != 0 => link_index = Some(*l),
            LinkAttribute::LinkNetNsId(id) if *id >= 0 => link_netnsid = Some(*id),
            LinkAttribute::LinkInfo(infos) => parse_link_info(infos, &mut iface),
            _ => {}
        }
    }
    RawLink {
        iface,
        link_index,
        link_netnsid,
    }
}

fn parse_link_info(infos: &[LinkInfo], iface: &mut Interface) {
    for info in infos {
        match info {
            LinkInfo::Kind(kind) => {
                iface.kind = match kind {
                    InfoKind::Veth => LinkKind::Veth,
                    InfoKind::Bridge => LinkKind::Bridge,
                    // Refined to Tap below from IFLA_TUN_TYPE.
                    InfoKind::Tun => LinkKind::Tun,
                    InfoKind::Vlan => LinkKind::Vlan,
                    InfoKind::Vxlan => LinkKind::Vxlan,
                    InfoKind::Geneve => LinkKind::Geneve,
                    InfoKind::MacVlan | InfoKind::MacVtap => LinkKind::Macvlan,
                    InfoKind::Dummy => LinkKind::Dummy,
                    InfoKind::Bond => LinkKind::Bond,
                    InfoKind::Other(k) if k == "openvswitch" => LinkKind::Openvswitch,
                    other => {
                        iface.kind_name = Some(other.to_string());
                        LinkKind::Other
                    }
                }
            }
            LinkInfo::Data(InfoData::Vlan(v)) => {
                iface.vlan_id = v.iter().find_map(|a| match a {
                    InfoVlan::Id(id) => Some(*id),
                    _ => None,
                })
            }
            LinkInfo::Data(InfoData::Vxlan(v)) => {
                iface.vni = v.iter().find_map(|a| match a {
                    InfoVxlan::Id(id) => Some(*id),
                    _ => None,
                })
            }
            LinkInfo::Data(InfoData::Bridge(attrs)) => {
                iface.vlan_filtering = attrs
                    .iter()
                    .any(|a| matches!(a, InfoBridge::VlanFiltering(true)));
            }
            LinkInfo::Data(InfoData::Bond(attrs)) => {
                let mut bond = LinuxBond {
                    mode: BondMode::BalanceRr,
                    active: None,
                };
                for a in attrs {
                    match a {
                        InfoBond::Mode(m) => bond.mode = BondMode::from_kernel(u8::from(*m)),
                        InfoBond::ActivePort(i) if *i != 0 => bond.active = Some(*i),
                        _ => {}
                    }
                }
                iface.bond = Some(bond);
            }
            LinkInfo::Data(InfoData::Geneve(v)) => {
                iface.vni = v.iter().find_map(|a| match a {
                    InfoGeneve::Id(id) => Some(*id),
                    _ => None,
                })
            }
            LinkInfo::Data(InfoData::Tun(attrs)) => {
                // netlink-packet-route leaves tun attributes raw. IFLA_TUN_TYPE (3) holds
                // IFF_TUN (1) or IFF_TAP (2).
                use netlink_packet_core::Nla as _;
                for a in attrs {
                    let netlink_packet_route::link::InfoTun::Other(nla) = a else {
                        continue;
                    };
                    if nla.kind() == 3 {
                        let mut value = vec![0; nla.value_len()];
                        nla.emit_value(&mut value);
                        if value.first() == Some(&2) {
                            iface.kind = LinkKind::Tap;
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn oper_state(s: State) -> OperState {
    match s {
        State::Up => OperState::Up,
        State::Down => OperState::Down,
        State::LowerLayerDown => OperState::LowerLayerDown,
        State::Dormant => OperState::Dormant,
        State::NotPresent => OperState::NotPresent,
        State::Testing => OperState::Testing,
        _ => OperState::Unknown,
    }
}

/// ifindex -> namespaces (positions in `per_ns`) that have a link with that index.
fn index_by_ifindex(per_ns: &[NamespaceLinks]) -> HashMap<u32, Vec<usize>> {
    let mut map: HashMap<u32, Vec<usize>> = HashMap::new();
    for (pos, ns) in per_ns.iter().enumerate() {
        for l in &ns.links {
            map.entry(l.iface.key.ifindex).or_default().push(pos);
        }
    }
    map
}

/// What one namespace was asked about the ids it gives others: its socket, opened on the first
/// question, and every answer, so that each candidate is asked once whatever the number of
/// cross-namespace links (a host bridge with a veth to each of 250 namespaces asked each of
/// them up to 250 times before).
#[derive(Default)]
struct NsidAsker {
    socket: Option<Rtnetlink>,
    asked: std::collections::HashSet<usize>,
    /// nsid -> namespace inode, as answered.
    known: HashMap<i32, u32>,
}

/// The inode of the namespace that `per_ns[from]` calls `nsid`, found among the namespaces
/// that have a link with index `ifindex`.
fn resolve_nsid(
    per_ns: &[NamespaceLinks],
    from: usize,
    asker: &mut NsidAsker,
    nsid: i32,
    ifindex: u32,
    by_index: &HashMap<u32, Vec<usize>>,
) -> Option<u32> {
    if let Some(&ino) = asker.known.get(&nsid) {
        return Some(ino);
    }
    let socket = match &mut asker.socket {
        Some(s) => s,
        None => match socket_in(&per_ns[from].netns) {
            Ok(s) => asker.socket.insert(s),
            Err(e) => {
                tracing::debug!("{}: {e:#}", per_ns[from].netns.name);
                return None;
            }
        },
    };
    for &candidate in by_index.get(&ifindex)? {
        if candidate == from || !asker.asked.insert(candidate) {
            continue;
        }
        let target = &per_ns[candidate].netns;
        // Gone since it was read: it cannot be the peer's namespace any more.
        let Ok(file) = open_verified(target) else {
            continue;
        };
        match nsid_of(socket, file.as_raw_fd()) {
            Ok(Some(id)) => {
                asker.known.insert(id, target.ino);
                if id == nsid {
                    return Some(target.ino);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::debug!("RTM_GETNSID failed: {e:#}"),
        }
    }
    None
}

/// The id the socket's namespace gives the namespace behind `fd` (None: unassigned).
fn nsid_of(socket: &mut Rtnetlink, fd: i32) -> Result<Option<i32>> {
    let mut msg = NsidMessage::default();
    msg.attributes.push(NsidAttribute::Fd(fd as u32));
    for reply in socket.query(RouteNetlinkMessage::GetNsId(msg))? {
        if let RouteNetlinkMessage::NewNsId(m) = reply {
            for a in m.attributes {
                if let NsidAttribute::Id(id) = a {
                    return Ok((id >= 0).then_some(id));
                }
            }
        }
    }
    Ok(None)
}
