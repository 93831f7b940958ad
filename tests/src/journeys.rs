//! Checks on the hops pathtrace reports for one packet: grouping by fingerprint, and that each
//! hop names the interface and namespace it really happened on.

use std::{collections::BTreeMap, os::unix::fs::MetadataExt as _};

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::cmd::ip;

/// (netns, ifname, hook) of one hop.
pub type Place = (String, String, String);

pub fn place(h: &Value) -> Place {
    let s = |k: &str| h[k].as_str().unwrap_or_default().to_string();
    (s("netns"), s("ifname"), s("hook"))
}

/// Hops grouped by fingerprint, in the order the packets were first seen.
pub fn by_fingerprint<'a>(
    hops: impl IntoIterator<Item = &'a Value>,
) -> Vec<(String, Vec<&'a Value>)> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for h in hops {
        let fp = h["fingerprint"].as_str().unwrap_or_default().to_string();
        if !groups.contains_key(&fp) {
            order.push(fp.clone());
        }
        groups.entry(fp).or_default().push(h);
    }
    order
        .into_iter()
        .map(|fp| {
            let hops = groups.remove(&fp).unwrap_or_default();
            (fp, hops)
        })
        .collect()
}

/// Every hop of the first packet that has a hop satisfying `first` (same fingerprint).
pub fn packet_where(hops: &[Value], first: impl Fn(&Value) -> bool) -> Vec<&Value> {
    let seed = hops
        .iter()
        .find(|h| first(h))
        .unwrap_or_else(|| panic!("no such hop in {hops:#?}"));
    hops.iter()
        .filter(|h| h["fingerprint"] == seed["fingerprint"])
        .collect()
}

/// The inode of a named network namespace (what pathtrace reports as `netns_ino`).
pub fn netns_inode(netns: &str) -> Result<u64> {
    Ok(std::fs::metadata(format!("/run/netns/{netns}"))
        .with_context(|| format!("no namespace {netns}"))?
        .ino())
}

/// The ifindex of `dev` inside `netns`.
pub fn ifindex(netns: &str, dev: &str) -> Result<u64> {
    let out = ip(netns, &["-j", "link", "show", "dev", dev])?;
    let v: Value = serde_json::from_str(&out)?;
    v[0]["ifindex"]
        .as_u64()
        .with_context(|| format!("no ifindex for {netns}:{dev} in {out}"))
}

/// Panics unless every non-drop hop's ifindex and namespace inode are those of the interface
/// and namespace it names.
pub fn assert_hops_are_where_they_say(hops: &[Value]) {
    for h in hops.iter().filter(|h| h["hook"] != "drop") {
        let (ns, dev, _) = place(h);
        assert_eq!(
            h["ifindex"].as_u64(),
            Some(ifindex(&ns, &dev).unwrap()),
            "ifindex of {ns}:{dev} in {h}"
        );
        assert_eq!(
            h["netns_ino"].as_u64(),
            Some(netns_inode(&ns).unwrap()),
            "namespace inode of {ns} in {h}"
        );
    }
}
