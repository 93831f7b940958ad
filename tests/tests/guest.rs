//! Tests that run inside a VM (`cargo xtask test` boots Debian's 6.12 backports kernel under
//! virtme-ng): the same pathtrace binary must load and see packets on a kernel other than the
//! host's, with tcx and with the netlink fallback.

#[path = "guest/bonds.rs"]
mod bonds;
#[path = "guest/faults.rs"]
mod faults;
#[path = "guest/journeys.rs"]
mod journeys;
#[path = "guest/line_rate.rs"]
mod line_rate;
#[path = "guest/ovn.rs"]
mod ovn;

use pathtrace_testbed::{
    cmd::run,
    dhcp::{acquire_lease, DhcpClient},
    journeys::packet_where,
    kernel_state::{attached_programs, qdisc_kinds},
    topologies::{BridgeLink, DhcpOnBridge, Seed004},
    tracer::{self, named, source_status},
    Lab, Tracer,
};
use serde_json::Value;

#[test]
fn runs_on_the_vm_kernel() {
    // The kernel this VM leg boots (`cargo xtask test` runs 6.12, then 6.1 without tcx).
    let expected = std::env::var("PATHTRACE_VM_KERNEL").unwrap_or_else(|_| "6.12.".into());
    let release = run("uname", &["-r"]).unwrap();
    assert!(
        release.starts_with(&expected),
        "not in the VM? kernel {release}, expected {expected}x"
    );
}

/// Whether the running kernel has tcx (Linux >= 6.6).
fn kernel_has_tcx() -> bool {
    let release = run("uname", &["-r"]).unwrap();
    let mut v = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    (major, minor) >= (6, 6)
}

fn dhcp_in_vm(mode: &str) {
    let mut lab = Lab::new("vmdhcp");
    let topo = DhcpOnBridge::build(&mut lab).unwrap();
    let ifaces = topo.interface_args();
    let mut args = vec![
        "trace",
        "--output",
        "json",
        "--tc-attach",
        mode,
        "--filter-dhcp",
        "--filter-mac",
        &topo.client_mac,
    ];
    for i in &ifaces {
        args.extend(["-i", i.as_str()]);
    }
    let tracer = Tracer::start(&args).unwrap();
    let kinds: Vec<String> = attached_programs(&topo.client).unwrap();
    // `auto` takes tcx where the kernel has it and falls back to netlink (clsact) where not.
    let expected_kind = match mode {
        "netlink" => "clsact/ingress",
        "auto" if !kernel_has_tcx() => "clsact/ingress",
        _ => "tcx/ingress",
    };
    assert!(kinds.iter().any(|k| k.contains(expected_kind)), "{kinds:?}");
    let lease = acquire_lease(&mut lab, &topo.client, "eth0", DhcpClient::Dhclient).unwrap();
    let out = tracer.stop(libc::SIGINT).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(lease, topo.reserved_ip);
    let hops = out.hops();
    for message in ["DISCOVER", "OFFER", "REQUEST", "ACK"] {
        for (ns, dev) in [(&topo.client, "eth0"), (&topo.server, "eth0")] {
            assert!(
                hops.iter().any(|h| h["dhcp"]["message"] == message
                    && h["netns"] == ns.as_str()
                    && h["ifname"] == dev),
                "{message} not seen at {ns}:{dev}: {hops:#?}"
            );
        }
    }
    for ns in lab.namespaces() {
        assert!(attached_programs(ns).unwrap().is_empty(), "left in {ns}");
    }
    assert!(!qdisc_kinds(&topo.client, "eth0")
        .unwrap()
        .contains(&"clsact".to_string()));
}

#[test]
fn dhcp_exchange_is_seen_with_tcx() {
    dhcp_in_vm("tcx");
}

#[test]
fn dhcp_exchange_is_seen_with_the_netlink_fallback() {
    dhcp_in_vm("netlink");
}

#[test]
fn dhcp_exchange_is_seen_with_the_automatic_attach() {
    dhcp_in_vm("auto");
}

fn json_of(args: &[&str]) -> Value {
    tracer::run_json(args).unwrap()
}

/// The columns pathtrace selects (tracer/src/topology/sources/ovsdb.rs), for capturing a
/// reply with ovsdb-client.
const OVSDB_QUERY: &str = r#"["Open_vSwitch",
 {"op":"select","table":"Bridge","where":[],"columns":["_uuid","name","ports","datapath_type","fail_mode"]},
 {"op":"select","table":"Port","where":[],"columns":["_uuid","name","interfaces","tag","trunks","vlan_mode"]},
 {"op":"select","table":"Interface","where":[],"columns":["_uuid","name","type","ofport","options","external_ids","mtu","mac_in_use","link_state","error"]}]"#;

/// Saves what the real tools print for this topology under $PATHTRACE_RESULTS/fixtures, so the
/// parser tests' fixtures can be refreshed from a real run (`cargo xtask test`, then copy).
fn capture_fixtures(topo: &Seed004, suffix: &str) {
    let Some(dir) = std::env::var_os("PATHTRACE_RESULTS") else {
        return;
    };
    let dir = std::path::Path::new(&dir).join("fixtures");
    std::fs::create_dir_all(&dir).unwrap();
    let socket = format!("unix:{}", topo.ovs.socket().display());
    let reply = run("ovsdb-client", &["transact", &socket, OVSDB_QUERY]).unwrap();
    std::fs::write(dir.join(format!("ovsdb-transact-{suffix}.json")), reply).unwrap();
    for b in ["br-int", "br-eth2"] {
        let flows = topo.ovs.dump_flows(b).unwrap();
        std::fs::write(dir.join(format!("dump-flows-{b}-{suffix}.txt")), flows).unwrap();
    }
    let xml = topo.libvirt_dir.join(format!("{}.xml", topo.domain));
    std::fs::copy(xml, dir.join("virsh-dumpxml.xml")).unwrap();
}

/// `pathtrace path --dhcp` for the seed's VM, found through its domain XML.
fn dhcp_path_args<'a>(topo: &'a Seed004, extra: &[&'a str]) -> Vec<&'a str> {
    let libvirt = topo.libvirt_dir.to_str().unwrap();
    let mut args = vec![
        "path",
        "--dhcp",
        "--mac",
        topo.vm_mac,
        "--libvirt-xml",
        libvirt,
    ];
    args.extend_from_slice(extra);
    args
}

fn dhcp_path_json(topo: &Seed004, extra: &[&str]) -> Value {
    let mut args = dhcp_path_args(topo, extra);
    args.extend(["--output", "json"]);
    json_of(&args)
}

type HopRow = (String, String, String, String, Option<u64>);

/// [`tracer::hop_rows`] plus the VLAN of each hop.
fn hops_of(path: &Value) -> Vec<HopRow> {
    tracer::hop_rows(path)
        .into_iter()
        .zip(path["hops"].as_array().unwrap())
        .map(|((kind, name, netns, dir), h)| (kind, name, netns, dir, h["vlan"].as_u64()))
        .collect()
}

fn seed004(link: BridgeLink) {
    let mut lab = Lab::new("s004");
    let topo = Seed004::build(&mut lab, link).unwrap();
    capture_fixtures(
        &topo,
        if link == BridgeLink::Patch {
            "patch"
        } else {
            "veth"
        },
    );
    // The topology is real: the VM gets the reserved lease through it.
    let lease = acquire_lease(&mut lab, &topo.vm, "eth0", DhcpClient::Dhclient).unwrap();
    assert_eq!(lease, topo.reserved_ip);

    let path = dhcp_path_json(&topo, &[]);
    if let Some(dir) = std::env::var_os("PATHTRACE_RESULTS") {
        // The README's example is this output.
        let text = tracer::run(&dhcp_path_args(&topo, &[])).unwrap();
        let name = format!("path-seed004-{link:?}.txt").to_lowercase();
        std::fs::write(std::path::Path::new(&dir).join(name), text.stdout).unwrap();
    }
    let pid = run("ip", &["netns", "pids", &topo.qdhcp]).unwrap();
    let pid = pid.split_whitespace().next().unwrap().to_string();
    let row = |k: &str, n: &str, ns: &str, d: &str, vlan: Option<u64>| {
        (
            k.to_string(),
            n.to_string(),
            ns.to_string(),
            d.to_string(),
            vlan,
        )
    };
    let mut expected = vec![
        row("vm", topo.domain, "", "", None),
        row("interface", &topo.tap, "root", "ingress", None),
        row("linux_bridge", &topo.qbr, "root", "", None),
        row("interface", &topo.qvb, "root", "egress", None),
        row("interface", &topo.qvo, "root", "ingress", None),
        row("ovs_bridge", "br-int", "", "", Some(1)),
    ];
    match link {
        BridgeLink::Patch => expected.extend([
            row("ovs_patch", "int-br-eth2", "", "", Some(1)),
            row("ovs_patch", "phy-br-eth2", "", "", Some(1)),
        ]),
        BridgeLink::Veth => expected.extend([
            row("interface", "int-br-eth2", "root", "egress", Some(1)),
            row("interface", "phy-br-eth2", "root", "ingress", Some(1)),
        ]),
    }
    expected.extend([
        row("ovs_bridge", "br-eth2", "", "", Some(1000)),
        row("interface", "eth2", "root", "egress", Some(1000)),
        row("interface", "eth2-net", "root", "ingress", Some(1000)),
        row("ovs_bridge", "br-net", "", "", Some(1000)),
        row("interface", "tapdhcp", &topo.qdhcp, "ingress", None),
        row(
            "dhcp_server",
            &format!("dnsmasq pid {pid}"),
            &topo.qdhcp,
            "",
            None,
        ),
    ]);
    assert_eq!(hops_of(&path), expected, "{path:#}");
    let hops = path["hops"].as_array().unwrap();
    let br_eth2 = hops.iter().find(|h| h["name"] == "br-eth2").unwrap();
    assert_eq!(br_eth2["vlan_rewrite"]["from"], 1);
    assert_eq!(br_eth2["vlan_rewrite"]["to"], 1000);
    assert!(
        br_eth2["vlan_rewrite"]["flow"]
            .as_str()
            .unwrap()
            .contains("dl_vlan=1 actions=mod_vlan_vid:1000,NORMAL"),
        "{br_eth2:#}"
    );
    let qvo = hops
        .iter()
        .find(|h| h["name"] == topo.qvo.as_str())
        .unwrap();
    assert_eq!(qvo["ovs_port"]["tag"], 1);
    assert_eq!(qvo["ovs_port"]["bridge"], "br-int");
    for h in hops.iter().filter(|h| h["kind"] == "ovs_patch") {
        assert_eq!(h["kernel_visible"], false);
    }
    assert_eq!(path["dhcp_server"]["reserved_ip"], topo.reserved_ip);
    assert_eq!(path["dhcp_server"]["netns"], topo.qdhcp.as_str());
    assert!(path["blocked_at"].is_null(), "{path:#}");

    // The same through an explicitly named socket (OVS in a container exposes only that).
    let socket = format!("unix:{}", topo.ovs.socket().display());
    let again = dhcp_path_json(&topo, &["--ovsdb", &socket]);
    assert_eq!(hops_of(&again), expected);

    // Without the VLAN translation the topology itself says where the packet stops.
    topo.ovs
        .replace_flows(
            "br-eth2",
            &[
                "priority=2,in_port=9999,actions=drop".into(),
                "priority=1,dl_vlan=5,actions=NORMAL".into(),
            ],
        )
        .unwrap();
    let broken = dhcp_path_json(&topo, &[]);
    let at = broken["blocked_at"].as_u64().expect("blocked") as usize;
    assert_eq!(broken["hops"][at - 1]["name"], "br-eth2", "{broken:#}");
    assert!(
        broken["hops"][at - 1]["notes"]
            .to_string()
            .contains("table miss"),
        "{broken:#}"
    );
}

#[test]
fn seed004_dhcp_path_through_patch_ports() {
    seed004(BridgeLink::Patch);
}

#[test]
fn seed004_dhcp_path_through_a_veth_between_bridges() {
    seed004(BridgeLink::Veth);
}

#[test]
fn seed004_topology_graph() {
    let mut lab = Lab::new("s004g");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).unwrap();
    let libvirt = topo.libvirt_dir.to_str().unwrap();
    let graph = json_of(&["topology", "--format", "json", "--libvirt-xml", libvirt]);
    for s in ["netlink", "ovsdb", "openflow", "libvirt", "dnsmasq"] {
        assert_eq!(
            source_status(&graph, s),
            "found",
            "{s}: {:#}",
            graph["sources"]
        );
    }
    let bridge = |n: &str| named(&graph["ovs_bridges"], "name", n).clone();
    let br_int = bridge("br-int");
    let port = |b: &Value, n: &str| named(&b["ports"], "name", n).clone();
    let qvo = port(&br_int, &topo.qvo);
    assert_eq!(qvo["tag"], 1);
    assert_eq!(
        qvo["interfaces"][0]["external_ids"]["attached-mac"],
        topo.vm_mac
    );
    let patch = port(&br_int, "int-br-eth2");
    assert_eq!(patch["interfaces"][0]["type"], "patch");
    assert_eq!(patch["interfaces"][0]["options"]["peer"], "phy-br-eth2");
    let tapdhcp = port(&bridge("br-net"), "tapdhcp");
    assert_eq!(tapdhcp["tag"], 1000);
    assert_eq!(tapdhcp["interfaces"][0]["type"], "internal");
    // The internal port moved into the qdhcp namespace is still tied to its OVS port.
    let netdev = &tapdhcp["interfaces"][0]["netdev"];
    let ns_of = |ino: &Value| {
        graph["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| &n["ino"] == ino)
            .map(|n| n["name"].as_str().unwrap().to_string())
    };
    assert_eq!(
        ns_of(&netdev["netns"]).as_deref(),
        Some(topo.qdhcp.as_str())
    );
    let flows = bridge("br-eth2")["flows"].clone();
    assert!(
        flows.as_array().unwrap().iter().any(|f| f["actions"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"action": "set_vlan", "arg": 1000}))),
        "{flows:#}"
    );
    let kinds: Vec<&str> = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "patch_peer",
        "ovs_port",
        "ovs_netdev",
        "vm_nic",
        "dhcp_listens",
        "bridge_port",
        "veth_peer",
    ] {
        assert!(kinds.contains(&k), "no {k} edge");
    }
    let vm = &graph["vms"][0];
    assert_eq!(vm["name"], topo.domain);
    assert_eq!(vm["nics"][0]["target_dev"], topo.tap.as_str());
    assert!(vm["nics"][0]["netdev"].is_object(), "{vm:#}");
    // The tree reads like `ovs-vsctl show`.
    let tree = tracer::run(&["topology", "--libvirt-xml", libvirt]).unwrap();
    assert!(tree.status.success(), "{tree:?}");
    assert!(
        tree.stdout.contains(&format!("port {} tag 1", topo.qvo)),
        "{}",
        tree.stdout
    );
    assert!(
        tree.stdout.contains("port int-br-eth2 patch"),
        "{}",
        tree.stdout
    );
}

#[test]
fn vlan_sub_interfaces_and_tunnels_are_discovered() {
    // Seed 002: a VLAN sub-interface of a NIC in a Linux bridge; plus the tunnel devices OVN
    // and Neutron create. The host kernel lacks 8021q and geneve, so this runs here.
    for m in ["8021q", "geneve", "vxlan"] {
        run("modprobe", &[m]).unwrap();
    }
    let mut lab = Lab::new("vlan");
    let host = lab.netns("host").unwrap();
    let wire = lab.netns("wire").unwrap();
    let vm = lab.netns("vm").unwrap();
    lab.veth((&host, "enp6s0"), (&wire, "sw0")).unwrap();
    lab.veth((&vm, "eth0"), (&host, "vnet0")).unwrap();
    let ip_in = |ns: &str, args: &[&str]| pathtrace_testbed::cmd::ip(ns, args).unwrap();
    ip_in(
        &host,
        &[
            "link",
            "add",
            "link",
            "enp6s0",
            "name",
            "enp6s0.24",
            "type",
            "vlan",
            "id",
            "24",
        ],
    );
    ip_in(&host, &["link", "set", "enp6s0.24", "up"]);
    lab.bridge(&host, "br24", &["enp6s0.24", "vnet0"]).unwrap();
    ip_in(
        &host,
        &[
            "link",
            "add",
            "vx42",
            "type",
            "vxlan",
            "id",
            "42",
            "dstport",
            "4789",
            "remote",
            "192.0.2.9",
        ],
    );
    ip_in(
        &host,
        &[
            "link",
            "add",
            "gnv7",
            "type",
            "geneve",
            "id",
            "7",
            "remote",
            "192.0.2.9",
        ],
    );
    let graph = json_of(&["topology", "--format", "json", "--netns", &host]);
    let link = |name: &str| named(&graph["interfaces"], "name", name).clone();
    let sub = link("enp6s0.24");
    assert_eq!(sub["kind"], "vlan");
    assert_eq!(sub["vlan_id"], 24);
    assert_eq!(sub["link"]["ifindex"], link("enp6s0")["ifindex"]);
    assert_eq!(sub["master"]["ifindex"], link("br24")["ifindex"]);
    assert_eq!(link("vx42")["kind"], "vxlan");
    assert_eq!(link("vx42")["vni"], 42);
    assert_eq!(link("gnv7")["kind"], "geneve");
    assert_eq!(link("gnv7")["vni"], 7);

    // The VM's frames leave the host tagged 24 on the NIC, untagged before it.
    let mac = lab.mac_of(&vm, "eth0").unwrap();
    let to = format!("{wire}:sw0");
    let path = json_of(&["path", "--mac", &mac, "--to", &to, "--output", "json"]);
    let rows: Vec<(String, Option<u64>)> = path["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["name"].as_str().unwrap().to_string(), h["vlan"].as_u64()))
        .collect();
    let expect = |n: &str, v: Option<u64>| (n.to_string(), v);
    assert_eq!(
        rows,
        [
            expect("eth0", None),
            expect("vnet0", None),
            expect("br24", None),
            expect("enp6s0.24", None),
            expect("enp6s0", Some(24)),
            expect("sw0", Some(24)),
        ],
        "{path:#}"
    );
}

/// The hop of `group` at (netns, ifname, hook), with its time.
fn find_hop<'a>(group: &[&'a Value], netns: &str, ifname: &str, hook: &str) -> &'a Value {
    group
        .iter()
        .copied()
        .find(|h| h["netns"] == netns && h["ifname"] == ifname && h["hook"] == hook)
        .unwrap_or_else(|| panic!("no {hook} at {netns}:{ifname} in {group:#?}"))
}

#[test]
fn ovs_datapath_entry_vlan_push_and_output_are_followed() {
    let mut lab = Lab::new("s004t");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).unwrap();
    let ifaces = [
        format!("root:{}", topo.tap),
        format!("root:{}", topo.qvb),
        format!("root:{}", topo.qvo),
        "root:eth2".to_string(),
        "root:eth2-net".to_string(),
        format!("{}:tapdhcp", topo.qdhcp),
    ];
    let mut args = vec![
        "trace",
        "--output",
        "json",
        "--filter-dhcp",
        "--filter-mac",
        topo.vm_mac,
    ];
    for i in &ifaces {
        args.extend(["-i", i.as_str()]);
    }
    let tracer = Tracer::start(&args).unwrap();
    let lease = acquire_lease(&mut lab, &topo.vm, "eth0", DhcpClient::Dhclient).unwrap();
    let out = tracer.stop(libc::SIGINT).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(lease, topo.reserved_ip);
    let summary = out.summary();
    for hook in [
        "kprobe/ovs_vport_receive",
        "kprobe/ovs_vport_send",
        "tracepoint/openvswitch:ovs_do_execute_action",
        "tracepoint/openvswitch:ovs_dp_upcall",
    ] {
        assert_eq!(
            named(&summary["hooks"], "hook", hook)["active"],
            true,
            "{summary}"
        );
    }
    assert_eq!(summary["lost_events"], 0);

    let hops = out.hops();
    if let Some(dir) = std::env::var_os("PATHTRACE_RESULTS") {
        std::fs::write(
            std::path::Path::new(&dir).join("trace-seed004.jsonl"),
            &out.stdout,
        )
        .unwrap();
    }
    // The first DISCOVER, one fingerprint from the VM's tap to the DHCP server's port, across
    // two datapath passes (br-int+br-eth2, then br-net) and the upcall that set up the flows.
    let group = packet_where(&hops, |h| {
        h["dhcp"]["message"] == "DISCOVER" && h["hook"] == "ingress"
    });
    let t = |h: &Value| h["t_ns"].as_u64().unwrap();
    let tap_in = find_hop(&group, "root", &topo.tap, "ingress");
    let qvo_in = find_hop(&group, "root", &topo.qvo, "ingress");
    let entry = find_hop(&group, "root", &topo.qvo, "ovs-receive");
    // br-int's NORMAL tags it 1 for the patch port, br-eth2's flow rewrites it to 1000: the
    // datapath applies that as push_vlan(1) ... pop_vlan, push_vlan(1000).
    let push = group
        .iter()
        .find(|h| h["ovs"]["action"] == "push_vlan" && h["ovs"]["push_vlan"]["vid"] == 1000)
        .unwrap_or_else(|| panic!("no push_vlan(vid=1000) action: {group:#?}"));
    let output = group
        .iter()
        .find(|h| h["ovs"]["action"] == "output" && h["ovs"]["port_name"] == "eth2")
        .unwrap_or_else(|| panic!("no output:eth2 action: {group:#?}"));
    let leave = find_hop(&group, "root", "eth2", "ovs-send");
    assert_eq!(leave["vlan"]["id"], 1000, "{leave}");
    assert_eq!(leave["ovs"]["port"], output["ovs"]["port"]);
    let wire = find_hop(&group, "root", "eth2", "egress");
    assert_eq!(wire["vlan"]["id"], 1000, "{wire}");
    let net_in = find_hop(&group, "root", "eth2-net", "ovs-receive");
    let server = find_hop(&group, &topo.qdhcp, "tapdhcp", "ingress");
    assert!(server["vlan"].is_null(), "untagged at the server: {server}");
    let order = [tap_in, qvo_in, entry, push, leave, wire, net_in, server];
    for pair in order.windows(2) {
        assert!(t(pair[0]) <= t(pair[1]), "out of order: {pair:#?}");
    }
    // The reply comes back the other way: tag 1000 popped in the datapath before qvo.
    let offer_group = packet_where(&hops, |h| {
        h["dhcp"]["message"] == "OFFER" && h["hook"] == "ovs-action"
    });
    assert!(
        offer_group.iter().any(|h| h["ovs"]["action"] == "pop_vlan"),
        "{offer_group:#?}"
    );
    find_hop(&offer_group, "root", &topo.qvo, "ovs-send");
    find_hop(&offer_group, "root", &topo.tap, "egress");
}

#[test]
fn geneve_inner_packet_is_matched_on_the_underlay() {
    pathtrace_testbed::scenarios::tunnel_inner_packet_is_followed(
        pathtrace_testbed::scenarios::Tunnel::Geneve,
    );
}
