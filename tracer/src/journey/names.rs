//! Name tables for what the kernel reports as numbers: namespace inodes, ifindexes (which repeat
//! across namespaces), drop reasons, and the time origin.

use std::collections::{BTreeMap, HashMap};

use crate::netns::{NetnsGuard, NetnsTable};

pub struct Names {
    netns: NetnsTable,
    /// (netns inode, ifindex) -> interface name; filled from the attachments, and lazily for
    /// drop events elsewhere.
    ifnames: HashMap<(u32, u32), String>,
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

    pub fn learn_datapath_port(&mut self, port: u32, name: &str) {
        if !name.starts_with("if#") {
            self.datapath_ports.insert(port, name.to_string());
        }
    }

    pub fn datapath_port(&self, port: u32) -> Option<String> {
        self.datapath_ports.get(&port).cloned()
    }

    pub fn ovs_action(&self, value: u8) -> String {
        self.ovs_actions
            .get(&(value as u32))
            .cloned()
            .unwrap_or_else(|| format!("action#{value}"))
    }

    pub fn add_interface(&mut self, netns_ino: u32, ifindex: u32, name: &str) {
        self.ifnames.insert((netns_ino, ifindex), name.to_string());
    }

    pub fn netns_name(&self, ino: u32) -> String {
        self.netns.name_of(ino)
    }

    /// Interface name; looked up in the namespace if it is a known one, and cached.
    pub fn ifname(&mut self, netns_ino: u32, ifindex: u32) -> String {
        if ifindex == 0 {
            return "-".into();
        }
        if let Some(name) = self.ifnames.get(&(netns_ino, ifindex)) {
            return name.clone();
        }
        let name = self
            .netns
            .get(netns_ino)
            .and_then(|ns| {
                let _in_netns = NetnsGuard::enter(&ns.path).ok()?;
                let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
                // SAFETY: buffer of IF_NAMESIZE as required.
                let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
                (!p.is_null()).then(|| {
                    // SAFETY: if_indextoname wrote a NUL-terminated string.
                    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
                        .to_string_lossy()
                        .into_owned()
                })
            })
            .unwrap_or_else(|| format!("if#{ifindex}"));
        self.ifnames.insert((netns_ino, ifindex), name.clone());
        name
    }

    pub fn drop_reason(&self, value: u32) -> String {
        self.drop_reasons
            .get(&value)
            .cloned()
            .unwrap_or_else(|| format!("reason#{value}"))
    }

    /// Nanoseconds since the first event seen.
    pub fn relative_time(&mut self, ts: u64) -> u64 {
        let first = *self.first_ts.get_or_insert(ts);
        ts.saturating_sub(first)
    }

    #[cfg(test)]
    pub fn for_test(netns: &[(u32, &str)], ifaces: &[(u32, u32, &str)]) -> Self {
        let mut names = Self::new(NetnsTable::for_test(netns), BTreeMap::new());
        for (ino, idx, name) in ifaces {
            names.add_interface(*ino, *idx, name);
        }
        names
    }

    #[cfg(test)]
    pub fn set_drop_reasons(&mut self, reasons: BTreeMap<u32, String>) {
        self.drop_reasons = reasons;
    }
}
