//! OVN's Southbound database (`OVN_Southbound`): the chassis with their tunnel endpoints, and
//! which chassis binds each logical port. One `transact`; `Port_Binding` rows are asked for by
//! type (VIF ports only, `type == ""`), so a cloud's router and patch bindings are not read.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

use super::{
    ovsdb_rpc::{self, Remote},
    ovsdb_value::{optional_bool, row_uuid, rows, string, uuids},
};
use crate::topology::ovn::{Chassis, PortBinding};

pub const DATABASE: &str = "OVN_Southbound";
pub const SOCKET: &str = "ovnsb_db.sock";

const CHASSIS: &[&str] = &["_uuid", "name", "hostname", "encaps"];
const ENCAP: &[&str] = &["_uuid", "type", "ip"];
const PORT_BINDING: &[&str] = &["logical_port", "chassis", "up"];

pub fn request() -> Vec<Value> {
    vec![
        ovsdb_rpc::select("Chassis", CHASSIS),
        ovsdb_rpc::select("Encap", ENCAP),
        ovsdb_rpc::select_where_eq("Port_Binding", PORT_BINDING, "type", &json!("")),
    ]
}

#[derive(Debug, Default)]
pub struct Southbound {
    pub chassis: Vec<Chassis>,
    pub bindings: Vec<PortBinding>,
}

pub fn query(remote: &Remote) -> Result<Southbound> {
    let ops = ovsdb_rpc::transact(remote, DATABASE, request(), "the OVN Southbound database")?;
    parse(&ops)
}

pub fn parse(ops: &[Value]) -> Result<Southbound> {
    anyhow::ensure!(
        ops.len() == 3,
        "the Southbound reply has {} results, expected 3",
        ops.len()
    );
    let mut encaps = HashMap::new();
    for row in rows(ops, 1, "Encap")? {
        encaps.insert(
            row_uuid(row)?,
            format!(
                "{}:{}",
                string(&row["type"]).unwrap_or_default(),
                string(&row["ip"]).unwrap_or_default()
            ),
        );
    }
    let mut names = HashMap::new();
    let mut chassis = Vec::new();
    for row in rows(ops, 0, "Chassis")? {
        let name = string(&row["name"]).context("a chassis without a name")?;
        names.insert(row_uuid(row)?, name.clone());
        chassis.push(Chassis {
            name,
            hostname: string(&row["hostname"]).unwrap_or_default(),
            encaps: uuids(&row["encaps"])?
                .iter()
                .filter_map(|u| encaps.get(u).cloned())
                .collect(),
        });
    }
    chassis.sort_by(|a, b| a.name.cmp(&b.name));
    let mut bindings = Vec::new();
    for row in rows(ops, 2, "Port_Binding")? {
        let chassis = match uuids(&row["chassis"])?.first() {
            Some(u) => Some(
                names
                    .get(u)
                    .cloned()
                    .context("a binding to an unknown chassis")?,
            ),
            None => None,
        };
        bindings.push(PortBinding {
            logical_port: string(&row["logical_port"]).context("a binding without a port")?,
            chassis,
            up: optional_bool(&row["up"])?,
        });
    }
    bindings.sort_by(|a, b| a.logical_port.cmp(&b.logical_port));
    Ok(Southbound { chassis, bindings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<Value> {
        let path = format!(
            "{}/fixtures/ovn-sb-transact.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn reply_from_a_real_southbound_server() {
        let sb = parse(&fixture()).unwrap();
        assert_eq!(sb.chassis[0].name, "pathtrace-chassis");
        assert_eq!(sb.chassis[0].encaps, ["geneve:127.0.0.1"]);
        let b = sb
            .bindings
            .iter()
            .find(|b| b.logical_port == "vm1-port")
            .unwrap();
        assert_eq!(b.chassis.as_deref(), Some("pathtrace-chassis"));
        assert_eq!(b.up, Some(true));
    }

    #[test]
    fn malformed_replies_are_errors() {
        let good = fixture();
        let mut unknown_chassis = good.clone();
        unknown_chassis[0] = json!({"rows": []});
        let mut no_port = good.clone();
        no_port[2]["rows"][0]["logical_port"] = json!(5);
        for bad in [Vec::new(), good[..2].to_vec(), unknown_chassis, no_port] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }
}
