//! Entry points for the fuzz targets (`fuzz/`, run by `cargo xtask fuzz`): each hands bytes to
//! one reader of untrusted input the way pathtrace does, down to what it prints, and must
//! return: an error is a fine answer, a panic, a hang or unbounded memory is a bug.
//!
//! The inputs are what a local user or a tenant can shape: ovsdb-server's reply (Open vSwitch's
//! and OVN's, whose logical ports and ACLs tenants name), `ovs-ofctl
//! dump-flows` output, libvirt domain XML, a dnsmasq command line with its conf and hosts files,
//! a recording handed to `pathtrace replay`, and the records the eBPF programs write (which
//! carry packet bytes a VM chose).

use crate::{
    capture::decode_record,
    event::{Hop, Resolver},
    journey::{recording::Recording, report},
    output::{self, journey_view::Style},
    topology::sources::{dnsmasq, libvirt, openflow, ovn_local, ovn_nb, ovn_sb, ovsdb},
};

/// Widest terminal the renderers are asked to fit.
const RENDER_WIDTH: usize = 100;

/// `ovsdb-server`'s reply to pathtrace's transaction (the JSON of the `result` member).
pub fn ovsdb_reply(data: &[u8]) {
    if let Ok(result) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = ovsdb::parse_reply(&result);
    }
}

/// An OVN database's reply to pathtrace's transaction (the per-operation results), read as the
/// Northbound, Southbound and local chassis readers read it, and the logical layer rendered.
pub fn ovn_reply(data: &[u8]) {
    let Ok(serde_json::Value::Array(ops)) = serde_json::from_slice::<serde_json::Value>(data)
    else {
        return;
    };
    let mut topo = crate::topology::Topology::default();
    let mut ovn = crate::topology::ovn::Ovn::default();
    if let Ok(nb) = ovn_nb::parse(&ops) {
        ovn.switches = nb.switches;
        ovn.routers = nb.routers;
        ovn.northbound = true;
    }
    if let Ok(sb) = ovn_sb::parse(&ops) {
        ovn.bindings = sb.bindings;
        ovn.southbound = true;
    }
    let _ = ovn_local::parse(&ops);
    topo.ovn = Some(ovn);
    let _ = output::topology_tree::render(&topo, None);
}

/// `ovs-ofctl dump-flows` output.
pub fn dump_flows(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = openflow::parse_dump(text);
    }
}

/// A libvirt domain XML file.
pub fn libvirt_xml(data: &[u8]) {
    if let Ok(xml) = std::str::from_utf8(data) {
        let _ = libvirt::parse(xml, "fuzz.xml");
    }
}

/// A dnsmasq process: its arguments (NUL-separated, as in `/proc/PID/cmdline`), then after a
/// line `\n--\n` the text of any conf file or hosts file it names.
pub fn dnsmasq(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (cmdline, file) = text.split_once("\n--\n").unwrap_or((&text, ""));
    let args: Vec<String> = cmdline.split('\0').map(String::from).collect();
    let file = file.to_string();
    let (config, _problems) = dnsmasq::parse_args(&args, &|_| Ok(file.clone()));
    for name in &config.hostsfiles {
        let _ = dnsmasq::parse_hostsfile(&file, name);
    }
}

/// A recording given to `pathtrace replay`: parsed, its expected path computed again (with
/// the OpenFlow simulation over its flows), judged, and rendered in every format.
pub fn recording(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rec) = Recording::parse(text) else {
        return;
    };
    let Ok(sightings) = rec.sightings() else {
        return;
    };
    let Ok(plan) = rec.plan(&sightings) else {
        return;
    };
    let expected = &plan.path;
    let inputs = rec.inputs(&plan, sightings);
    let _ = output::pcapng::render(&inputs.sightings);
    let report = report::build(inputs);
    let _ = serde_json::to_string(&report);
    let style = Style {
        colour: true,
        width: RENDER_WIDTH,
    };
    let _ = output::journey_view::render(&report, expected, style);
    let _ = output::journey_text::render(&report, expected, false);
    let _ = output::journey_dot::render(&report, expected, &rec.before);
}

/// One record of the events ring buffer, decoded and printed as `pathtrace trace` prints it.
pub fn event(data: &[u8]) {
    let Some(rec) = decode_record(data) else {
        return;
    };
    let hop = Hop::decode(&rec.event, Some(&rec.snapshot), &mut Unnamed);
    let _ = output::text::hop_line(&hop);
    let _ = output::json::line(&output::json::Record::Hop(&hop));
}

/// Names nothing, as on a host where the event's interface and namespace are gone.
struct Unnamed;

impl Resolver for Unnamed {
    fn netns_name(&self, ino: u32) -> String {
        format!("netns:[{ino}]")
    }

    fn ifname(&mut self, _netns_ino: u32, _ifindex: u32) -> Option<String> {
        None
    }

    fn drop_reason_name(&self, _value: u32) -> Option<String> {
        None
    }

    fn ovs_action_name(&self, _value: u8) -> Option<String> {
        None
    }

    fn datapath_port(&self, _port: u32) -> Option<String> {
        None
    }

    fn learn_datapath_port(&mut self, _port: u32, _name: &str) {}

    fn relative_time(&mut self, ktime_ns: u64) -> u64 {
        ktime_ns
    }
}

#[cfg(test)]
mod tests {
    /// Every entry point takes what a fuzzer starts from (nothing, one byte, garbage) and a
    /// well-formed input of its kind, without panicking.
    #[test]
    fn entry_points_take_empty_garbage_and_real_input() {
        for f in [
            super::ovsdb_reply,
            super::dump_flows,
            super::libvirt_xml,
            super::dnsmasq,
            super::recording,
            super::event,
        ] {
            f(b"");
            f(b"\xff");
            f(&[0u8; 4096]);
        }
        super::dump_flows(
            b" cookie=0x0, duration=1.5s, table=0, n_packets=3, n_bytes=180, priority=2,in_port=\"int-br-eth2\" actions=drop\n",
        );
        super::dnsmasq(
            b"--conf-file=/c\0--dhcp-hostsfile=/h\0-i\0tap0\n--\nfa:16:3e:00:00:01,10.0.0.5\n",
        );
    }
}
