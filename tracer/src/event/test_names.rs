//! A [`Resolver`] over fixed tables, for decoding tests without a kernel.

use std::collections::{BTreeMap, HashMap};

use super::Resolver;

#[derive(Default)]
pub struct TableNames {
    pub netns: HashMap<u32, String>,
    pub ifnames: HashMap<(u32, u32), String>,
    pub drop_reasons: BTreeMap<u32, String>,
    pub ovs_actions: BTreeMap<u8, String>,
    pub datapath_ports: HashMap<u32, String>,
    first_ts: Option<u64>,
}

impl TableNames {
    pub fn new(netns: &[(u32, &str)], ifaces: &[(u32, u32, &str)]) -> Self {
        Self {
            netns: netns.iter().map(|(i, n)| (*i, n.to_string())).collect(),
            ifnames: ifaces
                .iter()
                .map(|(ns, i, n)| ((*ns, *i), n.to_string()))
                .collect(),
            ..Self::default()
        }
    }
}

impl Resolver for TableNames {
    fn netns_name(&self, ino: u32) -> String {
        self.netns
            .get(&ino)
            .cloned()
            .unwrap_or_else(|| format!("netns:[{ino}]"))
    }

    fn ifname(&mut self, netns_ino: u32, ifindex: u32) -> Option<String> {
        self.ifnames.get(&(netns_ino, ifindex)).cloned()
    }

    fn drop_reason_name(&self, value: u32) -> Option<String> {
        self.drop_reasons.get(&value).cloned()
    }

    fn ovs_action_name(&self, value: u8) -> Option<String> {
        self.ovs_actions.get(&value).cloned()
    }

    fn datapath_port(&self, port: u32) -> Option<String> {
        self.datapath_ports.get(&port).cloned()
    }

    fn learn_datapath_port(&mut self, port: u32, name: &str) {
        self.datapath_ports.insert(port, name.to_string());
    }

    fn relative_time(&mut self, ktime_ns: u64) -> u64 {
        ktime_ns.saturating_sub(*self.first_ts.get_or_insert(ktime_ns))
    }
}
