//! OVSDB's JSON encoding of values (RFC 7047 §5.1): uuids, sets, maps and optional columns,
//! decoded strictly; every reader of an OVSDB database (Open vSwitch, OVN NB and SB) uses these.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value;

/// The first element of an optional column (an OVSDB set of zero or one), as a string.
pub fn optional_str(v: &Value) -> Result<Option<String>> {
    Ok(set(v)?.first().and_then(Value::as_str).map(str::to_string))
}

/// The first element of an optional integer column.
pub fn optional_i64(v: &Value) -> Result<Option<i64>> {
    Ok(set(v)?.first().and_then(Value::as_i64))
}

/// The first element of an optional boolean column.
pub fn optional_bool(v: &Value) -> Result<Option<bool>> {
    Ok(set(v)?.first().and_then(Value::as_bool))
}

pub fn row_uuid(row: &Value) -> Result<String> {
    uuid(&row["_uuid"]).context("row without _uuid")
}

pub fn string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// `["uuid", "..."]` -> the uuid string.
pub fn uuid(v: &Value) -> Result<String> {
    match v.as_array().map(Vec::as_slice) {
        Some([tag, Value::String(u)]) if tag == "uuid" => Ok(u.clone()),
        _ => bail!("expected a uuid, got {}", shown_value(v)),
    }
}

/// A set of uuids (a reference column).
pub fn uuids(v: &Value) -> Result<Vec<String>> {
    set(v)?.iter().map(uuid).collect()
}

/// A set of strings.
pub fn strings(v: &Value) -> Result<Vec<String>> {
    set(v)?
        .iter()
        .map(|a| {
            a.as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("expected a string, got {}", shown_value(a)))
        })
        .collect()
}

/// An OVSDB set: `["set", [atoms]]`, or a single atom standing for a one-element set.
pub fn set(v: &Value) -> Result<Vec<Value>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) if a.first().is_some_and(|t| t == "set") => match a.get(1) {
            Some(Value::Array(items)) if a.len() == 2 => Ok(items.clone()),
            _ => bail!("malformed OVSDB set {}", shown_value(v)),
        },
        other => Ok(vec![other.clone()]),
    }
}

/// An OVSDB map of strings: `["map", [[k, v], ...]]`.
pub fn map(v: &Value) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if v.is_null() {
        return Ok(out);
    }
    let pairs = match v.as_array().map(Vec::as_slice) {
        Some([tag, Value::Array(pairs)]) if tag == "map" => pairs,
        _ => bail!("malformed OVSDB map {}", shown_value(v)),
    };
    for pair in pairs {
        match pair.as_array().map(Vec::as_slice) {
            Some([k, val]) => {
                let atom = |a: &Value| match a {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.insert(atom(k), atom(val));
            }
            _ => bail!("malformed OVSDB map entry {}", shown_value(pair)),
        }
    }
    Ok(out)
}

/// The rows of one `select` result of a transact reply, or why there are none.
pub fn rows<'a>(ops: &'a [Value], i: usize, table: &str) -> Result<&'a Vec<Value>> {
    ops.get(i)
        .and_then(|op| op["rows"].as_array())
        .ok_or_else(|| anyhow!("no rows for table {table}"))
}

/// A value from the server, shortened and escaped for an error message: the database is the
/// host's, but its contents come from tenants.
fn shown_value(v: &Value) -> String {
    super::untrusted::shown(&v.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sets_and_maps() {
        assert_eq!(set(&json!(["set", []])).unwrap(), Vec::<Value>::new());
        assert_eq!(set(&json!(5)).unwrap(), vec![json!(5)]);
        assert!(set(&json!(["set", 5])).is_err());
        let m = map(&json!(["map", [["peer", "phy-br-eth2"], ["n", 3]]])).unwrap();
        assert_eq!(m["peer"], "phy-br-eth2");
        assert_eq!(m["n"], "3");
        assert!(map(&json!(["map", [["only-key"]]])).is_err());
        assert!(map(&json!("x")).is_err());
        assert_eq!(
            strings(&json!(["set", ["a", "b"]])).unwrap(),
            ["a".to_string(), "b".to_string()]
        );
        assert!(strings(&json!(["set", [1]])).is_err());
        assert_eq!(optional_bool(&json!(["set", []])).unwrap(), None);
        assert_eq!(optional_bool(&json!(false)).unwrap(), Some(false));
    }

    #[test]
    fn errors_do_not_echo_long_values() {
        let long = "x".repeat(10_000);
        let e = uuid(&json!(long)).unwrap_err().to_string();
        assert!(e.len() < 300, "{e}");
    }
}
