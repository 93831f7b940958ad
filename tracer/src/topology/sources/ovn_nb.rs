//! OVN's Northbound database (`OVN_Northbound`): the logical switches and their ports, DHCP
//! options, ACLs (direct and through port groups), and the logical routers with their ports,
//! static routes and NAT, in one `transact` of `select`s of only the columns the path needs.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::{
    ovsdb_rpc::{self, Remote},
    ovsdb_value::{
        map, optional_bool, optional_i64, optional_str, row_uuid, rows, string, strings, uuids,
    },
};
use crate::topology::ovn::{
    Acl, DhcpOptions, LogicalRouter, LogicalRouterPort, LogicalSwitch, LogicalSwitchPort, Nat,
    PortType, StaticRoute,
};

pub const DATABASE: &str = "OVN_Northbound";
/// The socket's file name in OVN's run directory.
pub const SOCKET: &str = "ovnnb_db.sock";

/// The tables read, in the order of the reply's operations.
const TABLES: &[(&str, &[&str])] = &[
    ("Logical_Switch", &["_uuid", "name", "ports", "acls"]),
    (
        "Logical_Switch_Port",
        &[
            "_uuid",
            "name",
            "type",
            "addresses",
            "dynamic_addresses",
            "port_security",
            "dhcpv4_options",
            "tag",
            "enabled",
            "up",
            "options",
        ],
    ),
    ("DHCP_Options", &["_uuid", "cidr", "options"]),
    (
        "ACL",
        &["_uuid", "priority", "direction", "match", "action", "name"],
    ),
    ("Port_Group", &["_uuid", "name", "ports", "acls"]),
    (
        "Logical_Router",
        &["_uuid", "name", "ports", "static_routes", "nat", "enabled"],
    ),
    (
        "Logical_Router_Port",
        &["_uuid", "name", "mac", "networks", "enabled", "peer"],
    ),
    (
        "Logical_Router_Static_Route",
        &["_uuid", "ip_prefix", "nexthop", "output_port"],
    ),
    ("NAT", &["_uuid", "type", "external_ip", "logical_ip"]),
];

pub fn request() -> Vec<Value> {
    TABLES
        .iter()
        .map(|(t, c)| ovsdb_rpc::select(t, c))
        .collect()
}

/// The logical network: switches and routers, sorted by name.
#[derive(Debug, Default)]
pub struct Northbound {
    pub switches: Vec<LogicalSwitch>,
    pub routers: Vec<LogicalRouter>,
}

pub fn query(remote: &Remote) -> Result<Northbound> {
    let ops = ovsdb_rpc::transact(remote, DATABASE, request(), "the OVN Northbound database")?;
    parse(&ops)
}

/// Rows of one table by uuid.
fn by_uuid<T>(
    ops: &[Value],
    i: usize,
    parse: impl Fn(&Value) -> Result<T>,
) -> Result<HashMap<String, T>> {
    let table = TABLES[i].0;
    rows(ops, i, table)?
        .iter()
        .map(|row| {
            Ok((
                row_uuid(row)?,
                parse(row).with_context(|| format!("a malformed {table} row"))?,
            ))
        })
        .collect()
}

/// The rows `refs` names, in their order; a dangling reference is an error (the server keeps
/// references whole, so one means a malformed reply).
fn resolve<T: Clone>(refs: &[String], rows: &HashMap<String, T>, what: &str) -> Result<Vec<T>> {
    refs.iter()
        .map(|u| {
            rows.get(u)
                .cloned()
                .with_context(|| format!("a reference to an unknown {what}"))
        })
        .collect()
}

pub fn parse(ops: &[Value]) -> Result<Northbound> {
    anyhow::ensure!(
        ops.len() == TABLES.len(),
        "the Northbound reply has {} results, expected {}",
        ops.len(),
        TABLES.len()
    );
    let dhcp = by_uuid(ops, 2, |r| {
        Ok(DhcpOptions {
            cidr: string(&r["cidr"]).unwrap_or_default(),
            options: map(&r["options"])?,
        })
    })?;
    let ports = by_uuid(ops, 1, |r| switch_port(r, &dhcp))?;
    let acls = by_uuid(ops, 3, acl)?;
    // ACLs of port groups apply to every switch that holds one of the group's ports.
    let mut group_acls: HashMap<String, Vec<Acl>> = HashMap::new();
    for row in rows(ops, 4, "Port_Group")? {
        let name = string(&row["name"]).unwrap_or_default();
        let mut list = resolve(&uuids(&row["acls"])?, &acls, "ACL")?;
        for a in &mut list {
            a.port_group = Some(name.clone());
        }
        for p in uuids(&row["ports"])? {
            group_acls
                .entry(p)
                .or_default()
                .extend(list.iter().cloned());
        }
    }
    let mut switches = Vec::new();
    for row in rows(ops, 0, "Logical_Switch")? {
        let port_refs = uuids(&row["ports"])?;
        let mut switch_acls = resolve(&uuids(&row["acls"])?, &acls, "ACL")?;
        for p in &port_refs {
            for a in group_acls.get(p).into_iter().flatten() {
                if !switch_acls.contains(a) {
                    switch_acls.push(a.clone());
                }
            }
        }
        switch_acls.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.uuid.cmp(&b.uuid)));
        let mut switch_ports = resolve(&port_refs, &ports, "Logical_Switch_Port")?;
        switch_ports.sort_by(|a, b| a.name.cmp(&b.name));
        switches.push(LogicalSwitch {
            name: string(&row["name"]).unwrap_or_default(),
            uuid: row_uuid(row)?,
            ports: switch_ports,
            acls: switch_acls,
            copp: Vec::new(),
        });
    }
    switches.sort_by(|a, b| a.name.cmp(&b.name));
    let router_ports = by_uuid(ops, 6, |r| {
        Ok(LogicalRouterPort {
            name: string(&r["name"]).unwrap_or_default(),
            mac: string(&r["mac"]).unwrap_or_default(),
            networks: strings(&r["networks"])?,
            enabled: optional_bool(&r["enabled"])?,
            peer: optional_str(&r["peer"])?,
        })
    })?;
    let routes = by_uuid(ops, 7, |r| {
        Ok(StaticRoute {
            ip_prefix: string(&r["ip_prefix"]).unwrap_or_default(),
            nexthop: string(&r["nexthop"]).unwrap_or_default(),
            output_port: optional_str(&r["output_port"])?,
        })
    })?;
    let nats = by_uuid(ops, 8, |r| {
        Ok(Nat {
            kind: string(&r["type"]).unwrap_or_default(),
            external_ip: string(&r["external_ip"]).unwrap_or_default(),
            logical_ip: string(&r["logical_ip"]).unwrap_or_default(),
        })
    })?;
    let mut routers = Vec::new();
    for row in rows(ops, 5, "Logical_Router")? {
        let mut ports = resolve(&uuids(&row["ports"])?, &router_ports, "Logical_Router_Port")?;
        ports.sort_by(|a, b| a.name.cmp(&b.name));
        routers.push(LogicalRouter {
            name: string(&row["name"]).unwrap_or_default(),
            uuid: row_uuid(row)?,
            enabled: optional_bool(&row["enabled"])?,
            ports,
            static_routes: resolve(&uuids(&row["static_routes"])?, &routes, "static route")?,
            nat: resolve(&uuids(&row["nat"])?, &nats, "NAT")?,
        });
    }
    routers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Northbound { switches, routers })
}

fn switch_port(r: &Value, dhcp: &HashMap<String, DhcpOptions>) -> Result<LogicalSwitchPort> {
    let dhcpv4 = match uuids(&r["dhcpv4_options"])?.first() {
        Some(u) => Some(
            dhcp.get(u)
                .cloned()
                .context("a reference to unknown DHCP_Options")?,
        ),
        None => None,
    };
    let tag = optional_i64(&r["tag"])?
        .map(u16::try_from)
        .transpose()
        .context("a tag out of range")?;
    Ok(LogicalSwitchPort {
        name: string(&r["name"]).context("a port without a name")?,
        kind: PortType::from_nb(&string(&r["type"]).unwrap_or_default()),
        addresses: strings(&r["addresses"])?,
        dynamic_addresses: optional_str(&r["dynamic_addresses"])?,
        port_security: strings(&r["port_security"])?,
        dhcpv4,
        tag,
        enabled: optional_bool(&r["enabled"])?,
        up: optional_bool(&r["up"])?,
        options: map(&r["options"])?,
    })
}

fn acl(r: &Value) -> Result<Acl> {
    Ok(Acl {
        uuid: row_uuid(r)?,
        priority: r["priority"]
            .as_i64()
            .context("an ACL without a priority")?,
        direction: string(&r["direction"]).unwrap_or_default(),
        matches: string(&r["match"]).unwrap_or_default(),
        action: string(&r["action"]).unwrap_or_default(),
        name: optional_str(&r["name"])?,
        port_group: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fixture() -> Vec<Value> {
        let path = format!(
            "{}/fixtures/ovn-nb-transact.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn reply_from_a_real_northbound_server() {
        let nb = parse(&fixture()).unwrap();
        assert_eq!(nb.switches.len(), 1);
        let sw = &nb.switches[0];
        assert_eq!(sw.name, "sw0");
        let vm = sw.ports.iter().find(|p| p.name == "vm1-port").unwrap();
        assert_eq!(vm.kind, PortType::Vif);
        assert_eq!(vm.addresses, ["0a:00:00:00:77:05 10.77.0.5"]);
        let dhcp = vm.dhcpv4.as_ref().unwrap();
        assert_eq!(dhcp.cidr, "10.77.0.0/24");
        assert_eq!(dhcp.options["server_id"], "10.77.0.1");
        assert!(dhcp.missing_required().is_empty());
        assert_eq!(vm.up, Some(true));
        let router_port = sw.ports.iter().find(|p| p.name == "sw0-lr0").unwrap();
        assert_eq!(router_port.kind, PortType::Router);
        assert_eq!(router_port.options["router-port"], "lr0-sw0");
        // The port group's ACL (with its group) and the switch's own, highest priority first.
        assert_eq!(sw.acls.len(), 2);
        assert_eq!(sw.acls[0].priority, 1001);
        assert_eq!(sw.acls[0].port_group.as_deref(), Some("pg_web"));
        assert_eq!(sw.acls[1].action, "drop");
        assert_eq!(sw.acls[1].matches, "udp.dst == 53");
        let lr = &nb.routers[0];
        assert_eq!(lr.name, "lr0");
        assert_eq!(lr.ports[0].networks, ["10.77.0.1/24"]);
        assert_eq!(lr.static_routes[0].nexthop, "10.77.0.254");
        assert_eq!(lr.nat[0].kind, "snat");
    }

    #[test]
    fn malformed_replies_are_errors() {
        let good = fixture();
        let mut cases: Vec<Vec<Value>> = vec![Vec::new(), good[..3].to_vec()];
        // A switch naming a port that is not there.
        let mut dangling = good.clone();
        dangling[1] = json!({"rows": []});
        cases.push(dangling);
        // A port without a name, a tag out of range, an ACL without a priority.
        let mut no_name = good.clone();
        no_name[1]["rows"][0]["name"] = json!(null);
        cases.push(no_name);
        let mut bad_tag = good.clone();
        bad_tag[1]["rows"][0]["tag"] = json!(70000);
        cases.push(bad_tag);
        let mut bad_acl = good.clone();
        if let Some(acl) = bad_acl[3]["rows"].get_mut(0) {
            acl["priority"] = json!("high");
            cases.push(bad_acl);
        }
        let mut not_rows = good.clone();
        not_rows[0] = json!({"count": 1});
        cases.push(not_rows);
        for bad in cases {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }
}
