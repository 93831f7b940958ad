//! What pathtrace may have left in the kernel: TC/tcx attachments, qdiscs and loaded programs.

use anyhow::Result;
use serde_json::Value;

use crate::cmd::{in_netns, run};

/// Every BPF program attached to an interface of `netns` (tcx and netlink), as `bpftool net`
/// reports them, e.g. `va tcx/ingress pathtrace_tc_ingress`.
pub fn attached_programs(netns: &str) -> Result<Vec<String>> {
    let out = in_netns(netns, "bpftool", &["-j", "net", "show"])?;
    let json: Value = serde_json::from_str(&out)?;
    let mut found = Vec::new();
    for section in json.as_array().into_iter().flatten() {
        // bpftool >= 7.3 lists tcx links here too, with kind "tcx/ingress" (README: setup
        // installs the backports bpftool for that reason).
        for entry in section["tc"].as_array().into_iter().flatten() {
            found.push(format!(
                "{} {} {}",
                entry["devname"].as_str().unwrap_or("?"),
                entry["kind"].as_str().unwrap_or("?"),
                entry["name"].as_str().unwrap_or("?")
            ));
        }
    }
    Ok(found)
}

/// The string `field` of every object in a JSON array, as bpftool and tc print them.
fn field_of_each(json_text: &str, field: &str) -> Result<Vec<String>> {
    let json: Value = serde_json::from_str(json_text)?;
    Ok(json
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o[field].as_str().map(str::to_string))
        .collect())
}

/// Names of all loaded BPF programs on the host (bpftool shows the full BTF name when the
/// program has BTF, as ours do).
pub fn loaded_program_names() -> Result<Vec<String>> {
    field_of_each(&run("bpftool", &["-j", "prog", "show"])?, "name")
}

/// Whether a pathtrace program is loaded (by any process).
pub fn pathtrace_programs_loaded() -> Result<bool> {
    Ok(loaded_program_names()?
        .iter()
        .any(|n| n.starts_with("pathtrace_")))
}

/// `tc qdisc show dev DEV` kinds in `netns`.
pub fn qdisc_kinds(netns: &str, dev: &str) -> Result<Vec<String>> {
    field_of_each(
        &in_netns(netns, "tc", &["-j", "qdisc", "show", "dev", dev])?,
        "kind",
    )
}

/// `tc filter show dev DEV ingress|egress` as text.
pub fn filters(netns: &str, dev: &str, hook: &str) -> Result<String> {
    in_netns(netns, "tc", &["filter", "show", "dev", dev, hook])
}

/// Panics unless nothing pathtrace attached remains in the lab's namespaces and its programs
/// are unloaded.
pub fn assert_nothing_left(lab: &crate::Lab) {
    for ns in lab.namespaces() {
        let left = attached_programs(ns).unwrap();
        assert!(left.is_empty(), "programs still attached in {ns}: {left:?}");
    }
    // Program memory is released by the kernel shortly after the last fd closes.
    crate::dhcp::wait_for(
        std::time::Duration::from_secs(3),
        "pathtrace programs to be unloaded",
        || Ok(!pathtrace_programs_loaded()?),
    )
    .unwrap();
}
