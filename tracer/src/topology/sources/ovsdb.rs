//! Open vSwitch configuration, read from ovsdb-server over its unix socket with one JSON-RPC
//! `transact` (RFC 7047 §4.1.3) that selects the Bridge, Port and Interface tables. Talking
//! to the socket directly (rather than running `ovs-vsctl`) works the same when OVS runs in
//! a container and only its socket is visible on the host.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};

use super::{
    ovsdb_rpc::{self, Remote},
    ovsdb_value::{map, optional_str, row_uuid, set, string, uuid},
};
use crate::topology::{
    bond::{BondMode, OvsBond},
    model::{OvsBridge, OvsInterface, OvsPort},
};

/// Where ovsdb-server puts its socket, in the order OVS's own tools look.
pub fn default_socket() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("OVS_RUNDIR") {
        candidates.push(PathBuf::from(dir).join("db.sock"));
    }
    for dir in [
        "/run/openvswitch",
        "/var/run/openvswitch",
        "/usr/local/var/run/openvswitch",
    ] {
        candidates.push(Path::new(dir).join("db.sock"));
    }
    candidates.into_iter().find(|p| p.exists())
}

/// Accepts `PATH` or `unix:PATH`, as OVS tools do.
pub fn socket_path(spec: &str) -> Result<PathBuf> {
    let path = spec.strip_prefix("unix:").unwrap_or(spec);
    if spec.starts_with("tcp:") || spec.starts_with("ssl:") {
        bail!("OVSDB remote '{spec}': only unix sockets are supported");
    }
    Ok(PathBuf::from(path))
}

// `_uuid` is only returned when asked for once `columns` is given; rows reference each other
// by it.
const BRIDGE_COLUMNS: &[&str] = &["_uuid", "name", "ports", "datapath_type", "fail_mode"];
const PORT_COLUMNS: &[&str] = &[
    "_uuid",
    "name",
    "interfaces",
    "tag",
    "trunks",
    "vlan_mode",
    "bond_mode",
    "lacp",
    "bond_active_slave",
];
const INTERFACE_COLUMNS: &[&str] = &[
    "_uuid",
    "name",
    "type",
    "ofport",
    "options",
    "external_ids",
    "mtu",
    "mac_in_use",
    "link_state",
    "error",
];

/// The JSON-RPC request pathtrace sends.
pub fn transact_request() -> Value {
    let select = |table: &str, columns: &[&str]| json!({"op": "select", "table": table, "where": [], "columns": columns});
    json!({
        "method": "transact",
        "params": [
            "Open_vSwitch",
            select("Bridge", BRIDGE_COLUMNS),
            select("Port", PORT_COLUMNS),
            select("Interface", INTERFACE_COLUMNS),
        ],
        "id": 1,
    })
}

/// Connects, asks, and returns the `result` member of the reply.
pub fn query(socket: &Path) -> Result<Value> {
    let request = transact_request();
    let ops = request["params"]
        .as_array()
        .map(|p| p[1..].to_vec())
        .unwrap_or_default();
    ovsdb_rpc::transact(
        &Remote::Unix(socket.to_path_buf()),
        "Open_vSwitch",
        ops,
        "ovsdb-server",
    )
    .map(Value::Array)
}

/// Turns the `result` of [`transact_request`] into bridges, ports and interfaces.
pub fn parse_reply(result: &Value) -> Result<Vec<OvsBridge>> {
    let ops = result
        .as_array()
        .ok_or_else(|| anyhow!("transact result is not an array"))?;
    if ops.len() != 3 {
        bail!("transact result has {} operations, expected 3", ops.len());
    }
    for op in ops {
        if let Some(e) = op.get("error") {
            bail!("OVSDB select failed: {e}");
        }
    }
    let rows = |i: usize, table: &str| -> Result<&Vec<Value>> {
        ops[i]["rows"]
            .as_array()
            .ok_or_else(|| anyhow!("no rows for table {table}"))
    };
    let mut interfaces = HashMap::new();
    for row in rows(2, "Interface")? {
        interfaces.insert(row_uuid(row)?, interface(row)?);
    }
    let mut ports = HashMap::new();
    for row in rows(1, "Port")? {
        ports.insert(row_uuid(row)?, port(row, &mut interfaces)?);
    }
    let mut bridges = rows(0, "Bridge")?
        .iter()
        .map(|row| bridge(row, &mut ports))
        .collect::<Result<Vec<_>>>()?;
    bridges.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(bridges)
}

fn interface(row: &Value) -> Result<OvsInterface> {
    Ok(OvsInterface {
        name: string(&row["name"]).context("Interface without a name")?,
        kind: string(&row["type"]).unwrap_or_default(),
        ofport: set(&row["ofport"])?.first().and_then(Value::as_i64),
        options: map(&row["options"])?,
        external_ids: map(&row["external_ids"])?,
        mtu: set(&row["mtu"])?.first().and_then(Value::as_i64),
        mac_in_use: optional_str(&row["mac_in_use"])?,
        link_state: optional_str(&row["link_state"])?,
        error: optional_str(&row["error"])?,
        netdev: None,
    })
}

/// A port, taking its interfaces out of `interfaces` (each belongs to one port).
fn port(row: &Value, interfaces: &mut HashMap<String, OvsInterface>) -> Result<OvsPort> {
    let mut ifaces = take_referenced(&row["interfaces"], interfaces, "Port", "Interface")?;
    ifaces.sort_by(|a, b| a.name.cmp(&b.name));
    let vlan = |v: &Value| -> Result<Option<u16>> {
        v.as_i64()
            .map(|t| u16::try_from(t).context("VLAN id out of range"))
            .transpose()
    };
    let tag = match set(&row["tag"])?.first() {
        Some(v) => vlan(v)?,
        None => None,
    };
    let mut trunks = Vec::new();
    for t in set(&row["trunks"])? {
        trunks.extend(vlan(&t)?);
    }
    trunks.sort_unstable();
    let bond = match ifaces.len() {
        0 | 1 => None,
        _ => Some(OvsBond {
            mode: BondMode::from_ovs(optional_str(&row["bond_mode"])?.as_deref()),
            lacp: optional_str(&row["lacp"])?,
            active_mac: optional_str(&row["bond_active_slave"])?,
        }),
    };
    Ok(OvsPort {
        name: string(&row["name"]).context("Port without a name")?,
        tag,
        trunks,
        vlan_mode: optional_str(&row["vlan_mode"])?,
        interfaces: ifaces,
        bond,
    })
}

/// A bridge, taking its ports out of `ports` (each belongs to one bridge).
fn bridge(row: &Value, ports: &mut HashMap<String, OvsPort>) -> Result<OvsBridge> {
    let mut bridge_ports = take_referenced(&row["ports"], ports, "Bridge", "Port")?;
    bridge_ports.sort_by(|a, b| a.name.cmp(&b.name));
    let datapath_type = string(&row["datapath_type"]).unwrap_or_default();
    Ok(OvsBridge {
        name: string(&row["name"]).context("Bridge without a name")?,
        datapath_type: if datapath_type.is_empty() {
            "system".into()
        } else {
            datapath_type
        },
        fail_mode: optional_str(&row["fail_mode"])?,
        ports: bridge_ports,
        flows: Vec::new(),
    })
}

/// The rows a set of UUIDs (`column` of a `table` row) references, taken out of `rows`: each
/// child belongs to one parent.
fn take_referenced<T>(
    column: &Value,
    rows: &mut HashMap<String, T>,
    table: &str,
    child: &str,
) -> Result<Vec<T>> {
    set(column)?
        .iter()
        .map(|u| {
            let u = uuid(u)?;
            rows.remove(&u)
                .ok_or_else(|| anyhow!("{table} references unknown {child} {u}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_specs() {
        assert_eq!(
            socket_path("unix:/run/openvswitch/db.sock").unwrap(),
            PathBuf::from("/run/openvswitch/db.sock")
        );
        assert!(socket_path("tcp:127.0.0.1:6640").is_err());
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn seed004_reply_from_a_real_ovsdb_server() {
        let bridges = parse_reply(&fixture("ovsdb-transact-patch.json")).unwrap();
        let names: Vec<&str> = bridges.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["br-eth2", "br-int", "br-net"]);
        let br_int = &bridges[1];
        assert_eq!(br_int.datapath_type, "system");
        let qvo = br_int
            .ports
            .iter()
            .find(|p| p.name == "qvo53903a95-82")
            .unwrap();
        assert_eq!(qvo.tag, Some(1));
        assert!(qvo.trunks.is_empty());
        assert_eq!(
            qvo.interfaces[0].attached_mac().unwrap().to_string(),
            "fa:16:3e:fe:c7:87"
        );
        let patch = br_int
            .ports
            .iter()
            .find(|p| p.name == "int-br-eth2")
            .unwrap();
        assert_eq!(patch.interfaces[0].patch_peer(), Some("phy-br-eth2"));
        assert_eq!(patch.interfaces[0].ofport, Some(2));
        let tapdhcp = &bridges[2]
            .ports
            .iter()
            .find(|p| p.name == "tapdhcp")
            .unwrap();
        assert_eq!(tapdhcp.tag, Some(1000));
        assert_eq!(tapdhcp.interfaces[0].kind, "internal");
        // With veth ports instead of patch ports the same ports have no type.
        let veth = parse_reply(&fixture("ovsdb-transact-veth.json")).unwrap();
        let p = veth[1]
            .ports
            .iter()
            .find(|p| p.name == "int-br-eth2")
            .unwrap();
        assert_eq!(p.interfaces[0].kind, "");
        assert_eq!(p.interfaces[0].patch_peer(), None);
    }

    #[test]
    fn malformed_replies_are_errors() {
        let good = fixture("ovsdb-transact-patch.json");
        let mut bad_cases = vec![json!({}), json!([]), json!([{}, {}, {}])];
        // A port pointing at an interface that is not there.
        let mut dangling = good.clone();
        dangling[2]["rows"] = json!([]);
        bad_cases.push(dangling);
        // A uuid that is not a uuid.
        let mut bad_uuid = good.clone();
        bad_uuid[0]["rows"][0]["ports"] = json!(["set", [["uuid"]]]);
        bad_cases.push(bad_uuid);
        // A VLAN tag out of range.
        let mut bad_tag = good.clone();
        bad_tag[1]["rows"][0]["tag"] = json!(70000);
        bad_cases.push(bad_tag);
        let mut op_error = good.clone();
        op_error[1] = json!({"error": "unknown column", "details": "x"});
        bad_cases.push(op_error);
        for bad in bad_cases {
            assert!(parse_reply(&bad).is_err(), "{bad}");
        }
    }
}
