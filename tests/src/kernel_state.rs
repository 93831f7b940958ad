//! What pathtrace may have left in the kernel: TC/tcx attachments, qdiscs and loaded programs.

use anyhow::Result;
use serde_json::Value;

use crate::cmd::{in_netns, run};

/// Every BPF program attached to an interface of `netns` (tcx and netlink), as `bpftool net`
/// reports them, e.g. `va tcx/ingress pathtrace_tc_ingress`.
pub fn attached_programs(netns: &str) -> Result<Vec<String>> {
    tc_programs(&in_netns(netns, "bpftool", &["-j", "net", "show"])?)
}

/// `DEV KIND NAME` of every TC program in `bpftool -j net show` output. bpftool >= 7.3 lists tcx
/// links here too, with kind "tcx/ingress" (README: setup installs the backports bpftool for
/// that reason).
fn tc_programs(bpftool_json: &str) -> Result<Vec<String>> {
    let json: Value = serde_json::from_str(bpftool_json)?;
    Ok(json
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|section| section["tc"].as_array().cloned().unwrap_or_default())
        .map(|entry| {
            format!(
                "{} {} {}",
                entry["devname"].as_str().unwrap_or("?"),
                entry["kind"].as_str().unwrap_or("?"),
                entry["name"].as_str().unwrap_or("?")
            )
        })
        .collect())
}

/// Whether `tc` (run in some namespace) shows a clsact qdisc on `dev` with no filter on either
/// side: one pathtrace added and left (a foreign clsact keeps its own filters).
fn empty_clsact(tc: &dyn Fn(&[&str]) -> Result<String>, dev: &str) -> bool {
    let kinds = tc(&["-j", "qdisc", "show", "dev", dev])
        .ok()
        .and_then(|out| field_of_each(&out, "kind").ok())
        .unwrap_or_default();
    kinds.iter().any(|k| k == "clsact")
        && ["ingress", "egress"].iter().all(|hook| {
            tc(&["filter", "show", "dev", dev, hook]).is_ok_and(|f| f.trim().is_empty())
        })
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

/// The names of the links of `netns` (none if it is gone).
fn links(netns: &str) -> Vec<String> {
    crate::cmd::ip(netns, &["-j", "link", "show"])
        .ok()
        .and_then(|out| field_of_each(&out, "ifname").ok())
        .unwrap_or_default()
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
        let tc = |args: &[&str]| in_netns(ns, "tc", args);
        for dev in links(ns) {
            assert!(
                !empty_clsact(&tc, &dev),
                "a clsact qdisc is left on {ns}:{dev}"
            );
        }
    }
    let ours_here: Vec<String> = tc_programs(&run("bpftool", &["-j", "net", "show"]).unwrap())
        .unwrap()
        .into_iter()
        .filter(|p| p.contains(" pathtrace_"))
        .collect();
    assert!(
        ours_here.is_empty(),
        "programs still attached in the host's own namespace: {ours_here:?}"
    );
    let tc = |args: &[&str]| run("tc", args);
    for link in host_links {
        assert!(!empty_clsact(&tc, link), "a clsact qdisc is left on {link}");
    }
    // Program memory is released by the kernel shortly after the last fd closes.
    crate::dhcp::wait_for(
        std::time::Duration::from_secs(3),
        "pathtrace programs to be unloaded",
        || Ok(!pathtrace_programs_loaded()?),
    )
    .unwrap();
}
