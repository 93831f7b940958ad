//! Control-plane protection (CoPP) in OVN's Northbound database: the meters a logical switch
//! applies to what it hands to ovn-controller (`dhcpv4-opts`, `arp`, ...), with their rate.
//! A transaction of its own: the `Copp` table and `Logical_Switch.copp` are younger than the
//! rest (OVN 21.06), and a server without them fails only this one.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::{
    ovn_nb::DATABASE,
    ovsdb_rpc::{self, Remote},
    ovsdb_value::{map, optional_i64, row_uuid, rows, string, uuids},
};
use crate::topology::ovn::CoppMeter;

/// The tables read, in the order of the reply's operations.
const TABLES: &[(&str, &[&str])] = &[
    ("Logical_Switch", &["_uuid", "name", "copp"]),
    ("Copp", &["_uuid", "meters"]),
    ("Meter", &["_uuid", "name", "unit", "bands"]),
    ("Meter_Band", &["_uuid", "action", "rate", "burst_size"]),
];

pub fn request() -> Vec<Value> {
    TABLES
        .iter()
        .map(|(t, c)| ovsdb_rpc::select(t, c))
        .collect()
}

/// The CoPP meters of each logical switch that has any, by switch name.
pub fn query(remote: &Remote) -> Result<HashMap<String, Vec<CoppMeter>>> {
    let ops = ovsdb_rpc::transact(remote, DATABASE, request(), "OVN's CoPP tables")?;
    parse(&ops)
}

pub fn parse(ops: &[Value]) -> Result<HashMap<String, Vec<CoppMeter>>> {
    anyhow::ensure!(
        ops.len() == TABLES.len(),
        "the CoPP reply has {} results, expected {}",
        ops.len(),
        TABLES.len()
    );
    let mut bands = HashMap::new();
    for row in rows(ops, 3, "Meter_Band")? {
        let rate = optional_i64(&row["rate"])?.context("a meter band without a rate")?;
        let burst = optional_i64(&row["burst_size"])?.unwrap_or(0);
        bands.insert(
            row_uuid(row)?,
            (string(&row["action"]).unwrap_or_default(), rate, burst),
        );
    }
    // Meters by name: CoPP names them so.
    let mut meters = HashMap::new();
    for row in rows(ops, 2, "Meter")? {
        let name = string(&row["name"]).context("a meter without a name")?;
        let band = uuids(&row["bands"])?
            .iter()
            .filter_map(|u| bands.get(u))
            .find(|(action, _, _)| action == "drop")
            .cloned();
        meters.insert(name, (string(&row["unit"]).unwrap_or_default(), band));
    }
    let mut copps = HashMap::new();
    for row in rows(ops, 1, "Copp")? {
        copps.insert(row_uuid(row)?, map(&row["meters"])?);
    }
    let mut out: HashMap<String, Vec<CoppMeter>> = HashMap::new();
    for row in rows(ops, 0, "Logical_Switch")? {
        let Some(copp) = uuids(&row["copp"])?.first().and_then(|u| copps.get(u)) else {
            continue;
        };
        let switch = string(&row["name"]).unwrap_or_default();
        for (protocol, meter) in copp {
            let Some((unit, Some((_, rate, burst)))) = meters.get(meter) else {
                continue;
            };
            out.entry(switch.clone()).or_default().push(CoppMeter {
                protocol: protocol.clone(),
                meter: meter.clone(),
                unit: unit.clone(),
                rate: *rate,
                burst: *burst,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `ovsdb-client transact` of `request()` on OVN 23.03 in the test VM after `meter-add
    /// dhcp-meter drop 1 pktps`, `copp-add copp0 dhcpv4-opts dhcp-meter`, `ls-copp-add copp0
    /// sw0`, with a switch without CoPP added.
    fn reply() -> Vec<Value> {
        let path = format!(
            "{}/fixtures/ovn-nb-copp-transact.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut ops: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        ops[0]["rows"].as_array_mut().unwrap().push(json!(
            {"_uuid": ["uuid", "5c1f0a52-0000-4000-8000-000000000002"], "name": "sw1",
             "copp": ["set", []]}
        ));
        ops
    }

    #[test]
    fn a_switchs_copp_meter_with_its_rate() {
        let copp = parse(&reply()).unwrap();
        assert_eq!(
            copp["sw0"],
            [CoppMeter {
                protocol: "dhcpv4-opts".into(),
                meter: "dhcp-meter".into(),
                unit: "pktps".into(),
                rate: 1,
                burst: 0,
            }]
        );
        assert!(!copp.contains_key("sw1"));
    }

    #[test]
    fn malformed_replies_are_errors() {
        assert!(parse(&reply()[..2]).is_err());
        let mut no_rate = reply();
        no_rate[3]["rows"][0]["rate"] = json!(["set", []]);
        assert!(parse(&no_rate).is_err());
        let mut nameless = reply();
        nameless[2]["rows"][0]["name"] = json!(7);
        assert!(parse(&nameless).is_err());
    }
}
