//! Name tables for what the kernel reports as numbers: namespace inodes, ifindexes (which repeat
//! across namespaces), drop reasons, OVS actions and datapath ports, and the time origin. The
//! event layer's [`Resolver`]; it enters namespaces to name interfaces it was not told about.

use std::collections::{BTreeMap, HashMap};

use crate::{
    event::Resolver,
    netns::{NetnsGuard, NetnsTable},
};

pub struct Names {
    netns: NetnsTable,
    /// (netns inode, ifindex) -> interface name (`None`: not found); filled from the
    /// attachments, and lazily for drop events elsewhere.
    ifnames: HashMap<(u32, u32), Option<String>>,
    drop_reasons: BTreeMap<u32, String>,
    /// `enum ovs_action_attr` value -> `output`, `push_vlan`, ... (from the module's BTF).
    ovs_actions: BTreeMap<u32, String>,
    /// Datapath port number -> name: from `ovs-dpctl show` at start, then from what the vport
    /// probes report (the kernel's own answer).
    datapath_ports: HashMap<u32, String>,
    first_ts: Option<u64>,
}

impl Names {
    pub fn new(netns: NetnsTable, drop_reasons: BTreeMap<u32, String>) -> Self {
        Self {
            netns,
            ifnames: HashMap::new(),
            drop_reasons,
            ovs_actions: BTreeMap::new(),
            datapath_ports: HashMap::new(),
            first_ts: None,
        }
    }

    pub fn set_ovs_actions(&mut self, actions: BTreeMap<u32, String>) {
        self.ovs_actions = actions;
    }

    pub fn set_datapath_ports(&mut self, ports: HashMap<u32, String>) {
        self.datapath_ports = ports;
    }

    pub fn add_interface(&mut self, netns_ino: u32, ifindex: u32, name: &str) {
        self.ifnames
            .insert((netns_ino, ifindex), Some(name.to_string()));
    }
}

impl Resolver for Names {
    fn netns_name(&self, ino: u32) -> String {
        self.netns.name_of(ino)
    }

    /// Looked up in the namespace if it is a known one, and cached (a miss too: drops from
    /// unknown places can come fast, and entering a namespace costs a syscall pair).
    fn ifname(&mut self, netns_ino: u32, ifindex: u32) -> Option<String> {
        if let Some(name) = self.ifnames.get(&(netns_ino, ifindex)) {
            return name.clone();
        }
        let name = self.netns.get(netns_ino).and_then(|ns| {
            let _in_netns = NetnsGuard::enter(ns).ok()?;
            let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
            // SAFETY: buffer of IF_NAMESIZE as required.
            let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
            (!p.is_null()).then(|| {
                // SAFETY: if_indextoname wrote a NUL-terminated string.
                unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
                    .to_string_lossy()
                    .into_owned()
            })
        });
        self.ifnames.insert((netns_ino, ifindex), name.clone());
        name
    }

    fn drop_reason_name(&self, value: u32) -> Option<String> {
        self.drop_reasons.get(&value).cloned()
    }

    fn ovs_action_name(&self, value: u8) -> Option<String> {
        self.ovs_actions.get(&u32::from(value)).cloned()
    }

    fn datapath_port(&self, port: u32) -> Option<String> {
        self.datapath_ports.get(&port).cloned()
    }

    fn learn_datapath_port(&mut self, port: u32, name: &str) {
        self.datapath_ports.insert(port, name.to_string());
    }

    fn relative_time(&mut self, ktime_ns: u64) -> u64 {
        let first = *self.first_ts.get_or_insert(ktime_ns);
        ktime_ns.saturating_sub(first)
    }
}
