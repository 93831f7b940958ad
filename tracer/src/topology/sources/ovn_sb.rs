//! OVN's Southbound database (`OVN_Southbound`): the chassis with their tunnel endpoints, which
//! chassis binds each logical port, and the logical flows that drop packets in the datapaths of
//! the ports this host's integration bridge carries. `Port_Binding` rows are asked for by type
//! (VIF ports only, `type == ""`), and logical flows by datapath (directly, or through the
//! datapath groups that include it): a cloud's 100,000 flows are never read whole.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

use super::{
    ovsdb_rpc::{self, Remote},
    ovsdb_value::{map, optional_bool, row_uuid, rows, string, uuid, uuids},
};
use crate::topology::ovn::{Chassis, LogicalFlow, PortBinding};

pub const DATABASE: &str = "OVN_Southbound";
pub const SOCKET: &str = "ovnsb_db.sock";

const CHASSIS: &[&str] = &["_uuid", "name", "hostname", "encaps"];
const ENCAP: &[&str] = &["_uuid", "type", "ip"];
const PORT_BINDING: &[&str] = &["logical_port", "chassis", "up", "datapath"];
const LOGICAL_FLOW: &[&str] = &[
    "_uuid",
    "pipeline",
    "table_id",
    "priority",
    "match",
    "actions",
    "external_ids",
];

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
    /// Datapath uuid of each binding, by logical port.
    pub datapaths: HashMap<String, String>,
    pub drop_flows: Vec<LogicalFlow>,
}

const WHO: &str = "the OVN Southbound database";

/// Chassis and bindings, then the drop flows of the datapaths of `local_ports` (the `iface-id`s
/// on this host's integration bridge).
pub fn query(remote: &Remote, local_ports: &[String]) -> Result<Southbound> {
    let ops = ovsdb_rpc::transact(remote, DATABASE, request(), WHO)?;
    let mut sb = parse(&ops)?;
    let mut wanted: Vec<&String> = local_ports
        .iter()
        .filter_map(|p| sb.datapaths.get(p))
        .collect();
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        return Ok(sb);
    }
    let mut ops = Vec::new();
    for dp in &wanted {
        let dp = json!(["uuid", dp]);
        ops.push(ovsdb_rpc::select_where_eq(
            "Logical_Flow",
            LOGICAL_FLOW,
            "logical_datapath",
            &dp,
        ));
        ops.push(json!({"op": "select", "table": "Logical_DP_Group", "where": [["datapaths", "includes", dp]], "columns": ["_uuid"]}));
    }
    let replies = ovsdb_rpc::transact(remote, DATABASE, ops, WHO)?;
    let mut groups = Vec::new();
    for i in 0..replies.len() {
        let rows = rows(&replies, i, "Logical_Flow")?;
        if i % 2 == 0 {
            sb.drop_flows.extend(drop_flows(rows)?);
        } else {
            for g in rows {
                groups.push(row_uuid(g)?);
            }
        }
    }
    groups.sort();
    groups.dedup();
    if !groups.is_empty() {
        let ops = groups
            .iter()
            .map(|g| {
                ovsdb_rpc::select_where_eq(
                    "Logical_Flow",
                    LOGICAL_FLOW,
                    "logical_dp_group",
                    &json!(["uuid", g]),
                )
            })
            .collect();
        let replies = ovsdb_rpc::transact(remote, DATABASE, ops, WHO)?;
        for i in 0..replies.len() {
            sb.drop_flows
                .extend(drop_flows(rows(&replies, i, "Logical_Flow")?)?);
        }
    }
    sb.drop_flows.sort_by(|a, b| a.uuid.cmp(&b.uuid));
    sb.drop_flows.dedup_by(|a, b| a.uuid == b.uuid);
    Ok(sb)
}

/// The flows among `rows` that drop: the only ones a stop is named by (a cloud's datapath has
/// thousands of flows, few of them drops).
pub fn drop_flows(rows: &[Value]) -> Result<Vec<LogicalFlow>> {
    let mut out = Vec::new();
    for r in rows {
        let actions = string(&r["actions"]).unwrap_or_default();
        if !LogicalFlow::drops(&actions) {
            continue;
        }
        let ids = map(&r["external_ids"])?;
        out.push(LogicalFlow {
            uuid: row_uuid(r)?,
            pipeline: string(&r["pipeline"]).unwrap_or_default(),
            table: r["table_id"]
                .as_i64()
                .context("a logical flow without a table")?,
            priority: r["priority"]
                .as_i64()
                .context("a logical flow without a priority")?,
            matches: string(&r["match"]).unwrap_or_default(),
            actions,
            stage: ids.get("stage-name").cloned(),
            hint: ids.get("stage-hint").cloned(),
        });
    }
    Ok(out)
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
    let mut datapaths = HashMap::new();
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
        let logical_port = string(&row["logical_port"]).context("a binding without a port")?;
        if let Ok(dp) = uuid(&row["datapath"]) {
            datapaths.insert(logical_port.clone(), dp);
        }
        bindings.push(PortBinding {
            logical_port,
            chassis,
            up: optional_bool(&row["up"])?,
        });
    }
    bindings.sort_by(|a, b| a.logical_port.cmp(&b.logical_port));
    Ok(Southbound {
        chassis,
        bindings,
        datapaths,
        drop_flows: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
    fn drop_flows_of_a_real_southbound_database() {
        let path = format!(
            "{}/fixtures/ovn-sb-logical-flows.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let reply: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let all = rows(&reply, 0, "Logical_Flow").unwrap();
        let drops = drop_flows(all).unwrap();
        assert!(
            !drops.is_empty() && drops.len() < all.len() / 2,
            "{} of {}",
            drops.len(),
            all.len()
        );
        // The bed's switch ACL `udp.dst == 53` drop, with its stage and hint.
        let acl = drops
            .iter()
            .find(|f| {
                f.stage.as_deref() == Some("ls_in_acl") && f.matches.contains("udp.dst == 53")
            })
            .unwrap_or_else(|| panic!("{drops:#?}"));
        assert_eq!(acl.pipeline, "ingress");
        assert_eq!(acl.hint.as_ref().map(String::len), Some(8));
        let port_security = drops
            .iter()
            .filter(|f| f.stage.as_deref() == Some("ls_in_apply_port_sec"))
            .count();
        assert!(port_security > 0, "{drops:#?}");
        let mut bad = all.clone();
        bad[0]["table_id"] = json!("x");
        bad[0]["actions"] = json!("drop;");
        assert!(drop_flows(&bad).is_err());
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
