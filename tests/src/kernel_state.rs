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

/// Panics unless nothing pathtrace attached remains in the lab's namespaces, in the host's own
/// namespace or on the lab's links there, and its programs are unloaded.
pub fn assert_nothing_left(lab: &crate::Lab) {
    assert_nothing_left_in(lab.namespaces(), lab.host_links());
}

/// [`assert_nothing_left`] for these namespaces and these links of the host's own namespace.
pub fn assert_nothing_left_in(namespaces: &[String], host_links: &[String]) {
    for ns in namespaces {
        let left = attached_programs(ns).unwrap();
        assert!(left.is_empty(), "programs still attached in {ns}: {left:?}");
    }
    let json: Value =
        serde_json::from_str(&run("bpftool", &["-j", "net", "show"]).unwrap()).unwrap();
    let ours_here: Vec<String> = json
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|section| section["tc"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["name"].as_str().map(str::to_string))
        .filter(|name| name.starts_with("pathtrace_"))
        .collect();
    assert!(
        ours_here.is_empty(),
        "programs still attached in the host's own namespace: {ours_here:?}"
    );
    for link in host_links {
        let kinds = field_of_each(
            &run("tc", &["-j", "qdisc", "show", "dev", link]).unwrap_or_else(|_| "[]".into()),
            "kind",
        )
        .unwrap_or_default();
        assert!(
            !kinds.iter().any(|k| k == "clsact"),
            "a clsact qdisc is left on {link}"
        );
    }
    // Program memory is released by the kernel shortly after the last fd closes.
    crate::dhcp::wait_for(
        std::time::Duration::from_secs(3),
        "pathtrace programs to be unloaded",
        || Ok(!pathtrace_programs_loaded()?),
    )
    .unwrap();
}
