//! This chassis' side of OVN: what the local Open vSwitch's `external_ids` tell ovn-controller
//! (system-id, Southbound remote, integration bridge, bridge mappings, encapsulation), whether
//! ovn-controller runs (a trusted process, see [`super::processes`]) and whether it says it is
//! connected to the Southbound database.

use std::{collections::BTreeMap, path::Path, process::Command, time::Duration};

use anyhow::Result;
use serde_json::Value;

use super::{
    bounded,
    ovsdb_rpc::{self, Remote},
    ovsdb_value::{map, rows},
    processes,
};
use crate::topology::ovn::{Controller, DEFAULT_INTEGRATION_BRIDGE};

/// What the local Open vSwitch tells ovn-controller.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Local {
    pub system_id: Option<String>,
    pub remote: Option<String>,
    pub integration_bridge: String,
    pub bridge_mappings: BTreeMap<String, String>,
    pub encap_type: Option<String>,
    pub encap_ip: Option<String>,
}

impl Local {
    /// Whether this host is configured as an OVN chassis at all.
    pub fn is_chassis(&self) -> bool {
        self.system_id.is_some() && self.remote.is_some()
    }
}

pub fn request() -> Vec<Value> {
    vec![ovsdb_rpc::select("Open_vSwitch", &["external_ids"])]
}

pub fn query(ovs_socket: &Path) -> Result<Local> {
    let ops = ovsdb_rpc::transact(
        &Remote::Unix(ovs_socket.to_path_buf()),
        "Open_vSwitch",
        request(),
        "ovsdb-server",
    )?;
    parse(&ops)
}

pub fn parse(ops: &[Value]) -> Result<Local> {
    let ids = match rows(ops, 0, "Open_vSwitch")?.first() {
        Some(row) => map(&row["external_ids"])?,
        None => BTreeMap::new(),
    };
    let get = |k: &str| ids.get(k).filter(|v| !v.is_empty()).cloned();
    Ok(Local {
        system_id: get("system-id"),
        remote: get("ovn-remote"),
        integration_bridge: get("ovn-bridge").unwrap_or_else(|| DEFAULT_INTEGRATION_BRIDGE.into()),
        bridge_mappings: parse_mappings(ids.get("ovn-bridge-mappings").map_or("", |s| s)),
        encap_type: get("ovn-encap-type"),
        encap_ip: get("ovn-encap-ip"),
    })
}

/// `physnet1:br-ex,physnet2:br-vlan` -> `{physnet1: br-ex, physnet2: br-vlan}`.
pub fn parse_mappings(s: &str) -> BTreeMap<String, String> {
    s.split(',')
        .filter_map(|m| m.trim().split_once(':'))
        .filter(|(net, br)| !net.is_empty() && !br.is_empty())
        .map(|(net, br)| (net.to_string(), br.to_string()))
        .collect()
}

/// What ovn-controller is called, by `comm` and by its executable's name.
const PROGRAM: &str = "ovn-controller";
/// How long ovn-controller may take to say whether it is connected.
const STATUS_LIMIT: Duration = Duration::from_secs(3);
/// Where OVN's daemons put their control sockets.
const RUN_DIRS: &[&str] = &["/run/ovn", "/var/run/ovn", "/usr/local/var/run/ovn"];

/// ovn-controller on this host: running or not, and connected or not when it says.
pub fn controller() -> Controller {
    let found = processes::scan(PROGRAM, &[processes::CAP_NET_ADMIN]);
    let pid = found.trusted.first().map(|p| p.pid);
    Controller {
        pid,
        connected: pid.and_then(connection_status),
        ignored: found.ignored,
    }
}

/// `ovn-appctl -t <ctl socket> connection-status` of the ovn-controller `pid`: `connected` or
/// `not connected`. `None` when it cannot be asked.
fn connection_status(pid: u32) -> Option<bool> {
    let ctl = RUN_DIRS
        .iter()
        .map(|d| Path::new(d).join(format!("{PROGRAM}.{pid}.ctl")))
        .find(|p| p.exists())?;
    let mut cmd = Command::new("ovn-appctl");
    cmd.arg("-t").arg(ctl).arg("connection-status");
    let out = bounded::output(cmd, STATUS_LIMIT).ok()?;
    if !out.status.success() {
        return None;
    }
    match String::from_utf8_lossy(&out.stdout).trim() {
        "connected" => Some(true),
        "not connected" => Some(false),
        _ => None,
    }
}

/// OVN's default socket for `file` (`ovnnb_db.sock`, `ovnsb_db.sock`), where OVN's tools look.
pub fn default_socket(file: &str) -> Option<Remote> {
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("OVN_RUNDIR") {
        dirs.push(d.into());
    }
    dirs.extend(RUN_DIRS.iter().map(Into::into));
    dirs.into_iter()
        .map(|d| d.join(file))
        .find(|p| p.exists())
        .map(Remote::Unix)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn external_ids() {
        let ops = [json!({"rows": [{"external_ids": ["map", [
            ["system-id", "chassis-1"],
            ["ovn-remote", "unix:/run/ovn/ovnsb_db.sock"],
            ["ovn-bridge-mappings", "octavia:octbr, physnet:br-ex,bad"],
            ["ovn-encap-type", "geneve"],
            ["ovn-encap-ip", "192.0.2.10"]
        ]]}]})];
        let l = parse(&ops).unwrap();
        assert!(l.is_chassis());
        assert_eq!(l.integration_bridge, "br-int");
        assert_eq!(l.bridge_mappings["octavia"], "octbr");
        assert_eq!(l.bridge_mappings["physnet"], "br-ex");
        assert_eq!(l.bridge_mappings.len(), 2);
        let none = parse(&[json!({"rows": []})]).unwrap();
        assert!(!none.is_chassis());
        assert!(parse(&[json!({})]).is_err());
    }
}
