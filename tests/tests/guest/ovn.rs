//! OVN native DHCP with real OVN 23.03 (NB/SB ovsdb-servers, ovn-northd, ovn-controller on the
//! real kernel datapath) and a real dhclient: `pathtrace --dhcp MAC` must find ovn-controller as
//! the server, follow the exchange, and name OVN's own objects when it stops. Runs in the VM.

use pathtrace_testbed::{
    journey_run::{packets_going, reason, Journey},
    kernel_state::assert_nothing_left,
    octavia::{self, Octavia},
    ovn::{OvnChassis, CHASSIS, SERVER_ID},
    tracer::{self, named},
    Lab,
};
use serde_json::Value;

const VM_MAC: &str = "0a:00:00:00:77:05";
const VM_IP: &str = "10.77.0.5";
const PORT: &str = "vm1-port";
const ACL_PRIORITY: &str = "1002";
const ACL_MATCH: &str = "inport == \"vm1-port\" && udp.dst == 67";
const COPP_METER: &str = "dhcp-meter";

/// What each test changes in the healthy set-up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    NoDhcpOptions,
    PortSecurityOtherMac,
    IfaceIdNamesNoPort,
    ControllerKilled,
    AclDropsDhcp,
}

/// One logical switch with the VM's logical port (its MAC and address, DHCP options unless the
/// fault removes them) and the VM's namespace on br-int; synced to this chassis.
fn build(lab: &mut Lab, fault: Fault) -> (OvnChassis, String) {
    let mut ovn = OvnChassis::start(lab).unwrap();
    ovn.nbctl(&["ls-add", "sw0"]).unwrap();
    ovn.nbctl(&["lsp-add", "sw0", PORT]).unwrap();
    ovn.nbctl(&["lsp-set-addresses", PORT, &format!("{VM_MAC} {VM_IP}")])
        .unwrap();
    if fault != Fault::NoDhcpOptions {
        let dhcp = ovn.dhcp_options().unwrap();
        ovn.nbctl(&["lsp-set-dhcpv4-options", PORT, &dhcp]).unwrap();
    }
    if fault == Fault::PortSecurityOtherMac {
        ovn.nbctl(&[
            "lsp-set-port-security",
            PORT,
            &format!("0a:00:00:00:77:99 {VM_IP}"),
        ])
        .unwrap();
    }
    let iface_id = match fault {
        Fault::IfaceIdNamesNoPort => "no-such-port",
        _ => PORT,
    };
    if fault == Fault::AclDropsDhcp {
        ovn.nbctl(&[
            "acl-add",
            "sw0",
            "from-lport",
            ACL_PRIORITY,
            ACL_MATCH,
            "drop",
        ])
        .unwrap();
    }
    let vm = ovn.vm(lab, "vm1", VM_MAC, iface_id).unwrap();
    ovn.sync().unwrap();
    if fault == Fault::ControllerKilled {
        ovn.kill_controller().unwrap();
    }
    (ovn, vm)
}

/// `pathtrace --dhcp VM_MAC`, dhclient in the VM for `client_secs`, then the report.
fn journey(lab: &mut Lab, name: &str, vm: &str, client_secs: u32, timeout: &str) -> (i32, Value) {
    Journey::start(lab, name, &["--dhcp", VM_MAC, "--timeout", timeout])
        .unwrap()
        .finish_after_dhclient(lab, vm, client_secs)
}

#[test]
fn ovn_native_dhcp_is_delivered_by_ovn_controller() {
    let mut lab = Lab::new("ovnok");
    let (_ovn, vm) = build(&mut lab, Fault::None);
    let (code, r) = journey(&mut lab, "ovn-healthy", &vm, 60, "60");
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "delivered", "{r:#}");
    for m in ["DISCOVER", "OFFER", "REQUEST", "ACK"] {
        assert_eq!(r["dhcp"][m]["seen"], true, "{m}: {r:#}");
        assert_eq!(r["dhcp"][m]["delivered"], true, "{m}: {r:#}");
    }
    assert_eq!(r["dhcp"]["answered_by"], "ovn-controller", "{r:#}");
    assert_eq!(r["dhcp"]["server"], SERVER_ID, "{r:#}");
    assert_eq!(r["dhcp"]["offered_ip"], VM_IP, "{r:#}");
    assert_eq!(r["dhcp"]["reserved_ip"], VM_IP, "{r:#}");
    assert_eq!(r["lost_events"], 0, "{r:#}");
    assert_nothing_left(&lab);
}

#[test]
fn ovn_port_without_dhcp_options_is_named() {
    let mut lab = Lab::new("ovnnoopt");
    let (_ovn, vm) = build(&mut lab, Fault::NoDhcpOptions);
    let (code, r) = journey(&mut lab, "ovn-no-dhcp-options", &vm, 8, "12");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["dhcp"]["DISCOVER"]["seen"], true, "{r:#}");
    assert_eq!(r["dhcp"]["OFFER"]["seen"], false, "{r:#}");
    assert_eq!(r["stopped_at"]["ifname"], "br-int", "{r:#}");
    let cause = &r["cause"];
    assert_eq!(cause["kind"], "ovn_no_dhcp_options", "{r:#}");
    assert_eq!(cause["port"], PORT, "{r:#}");
    assert_eq!(cause["gap"]["kind"], "no_options", "{r:#}");
    assert!(reason(&r).contains("DHCPv4 options"), "{r:#}");
}

#[test]
fn ovn_acl_dropping_dhcp_is_named_with_its_stage() {
    let mut lab = Lab::new("ovnacl");
    let (_ovn, vm) = build(&mut lab, Fault::AclDropsDhcp);
    let (code, r) = journey(&mut lab, "ovn-acl-drop", &vm, 8, "12");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["stopped_at"]["ifname"], "br-int", "{r:#}");
    let cause = &r["cause"];
    assert_eq!(cause["kind"], "ovn_logical_drop", "{r:#}");
    assert_eq!(cause["stage"], "ls_in_acl", "{r:#}");
    assert_eq!(cause["acl"]["match"], ACL_MATCH, "{r:#}");
    assert_eq!(cause["acl"]["priority"], 1002, "{r:#}");
    assert_eq!(cause["acl"]["direction"], "from-lport", "{r:#}");
}

#[test]
fn ovn_port_security_that_does_not_allow_the_mac_is_named() {
    let mut lab = Lab::new("ovnpsec");
    let (_ovn, vm) = build(&mut lab, Fault::PortSecurityOtherMac);
    let (code, r) = journey(&mut lab, "ovn-port-security", &vm, 8, "12");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["stopped_at"]["ifname"], "br-int", "{r:#}");
    let cause = &r["cause"];
    assert_eq!(cause["kind"], "ovn_port_security", "{r:#}");
    // OVN 23.03 names the stage that drops it so (`ls_in_port_sec_l2` before 22.06).
    assert_eq!(cause["stage"], "ls_in_apply_port_sec", "{r:#}");
    assert_eq!(cause["port"], PORT, "{r:#}");
    assert_eq!(cause["mac"], VM_MAC, "{r:#}");
}

#[test]
fn ovn_iface_id_without_a_logical_port_is_not_bound() {
    let mut lab = Lab::new("ovnunb");
    let (_ovn, vm) = build(&mut lab, Fault::IfaceIdNamesNoPort);
    let (code, r) = journey(&mut lab, "ovn-not-bound", &vm, 8, "12");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["stopped_at"]["ifname"], "br-int", "{r:#}");
    let cause = &r["cause"];
    assert_eq!(cause["kind"], "ovn_port_not_bound", "{r:#}");
    assert_eq!(cause["iface_id"], "no-such-port", "{r:#}");
    assert!(reason(&r).contains("not bound"), "{r:#}");
}

#[test]
fn ovn_controller_not_running_is_named_as_the_silent_server() {
    let mut lab = Lab::new("ovnctl");
    let (_ovn, vm) = build(&mut lab, Fault::ControllerKilled);
    let (code, r) = journey(&mut lab, "ovn-controller-killed", &vm, 8, "12");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["dhcp"]["OFFER"]["seen"], false, "{r:#}");
    let cause = &r["cause"];
    assert_eq!(cause["kind"], "ovn_controller_down", "{r:#}");
    assert_eq!(cause["port"], PORT, "{r:#}");
    assert_eq!(cause["bridge"], "br-int", "{r:#}");
    assert!(
        reason(&r).contains("ovn-controller is not running"),
        "{r:#}"
    );
    assert_eq!(r["expected_next"]["kind"], "dhcp_server", "{r:#}");
}

#[test]
fn ovn_topology_shows_the_logical_layer() {
    let mut lab = Lab::new("ovntopo");
    let (ovn_handle, _vm) = build(&mut lab, Fault::None);
    // A router, a port group with an ACL and a switch ACL, and a CoPP meter (at most one DHCP
    // request a second to ovn-controller), so that the captured replies hold every table
    // pathtrace reads.
    for args in [
        &["meter-add", COPP_METER, "drop", "1", "pktps"][..],
        &["copp-add", "copp0", "dhcpv4-opts", COPP_METER],
        &["ls-copp-add", "copp0", "sw0"],
        &["lr-add", "lr0"],
        &[
            "lrp-add",
            "lr0",
            "lr0-sw0",
            "0a:00:00:00:77:01",
            "10.77.0.1/24",
        ],
        &["lsp-add", "sw0", "sw0-lr0"],
        &["lsp-set-type", "sw0-lr0", "router"],
        &["lsp-set-addresses", "sw0-lr0", "router"],
        &["lsp-set-options", "sw0-lr0", "router-port=lr0-sw0"],
        &["lr-route-add", "lr0", "0.0.0.0/0", "10.77.0.254"],
        &["lr-nat-add", "lr0", "snat", "192.0.2.10", "10.77.0.0/24"],
        &["pg-add", "pg_web", PORT],
        &[
            "acl-add",
            "pg_web",
            "to-lport",
            "1001",
            "outport == @pg_web && tcp.dst == 80",
            "allow-related",
        ],
        &[
            "acl-add",
            "sw0",
            "from-lport",
            "900",
            "udp.dst == 53",
            "drop",
        ],
    ] {
        ovn_handle.nbctl(args).unwrap();
    }
    let json = tracer::run_json(&["topology", "--format", "json"]).unwrap();
    let ovn = &json["ovn"];
    assert_eq!(ovn["chassis"], CHASSIS, "{ovn:#}");
    assert_eq!(ovn["integration_bridge"], "br-int");
    assert!(ovn["controller"]["pid"].is_number(), "{ovn:#}");
    assert_eq!(ovn["controller"]["connected"], true, "{ovn:#}");
    let port = named(&ovn["switches"][0]["ports"], "name", PORT);
    assert_eq!(port["dhcpv4"]["options"]["server_id"], SERVER_ID, "{ovn:#}");
    let binding = ovn["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["logical_port"] == PORT)
        .unwrap_or_else(|| panic!("{ovn:#}"));
    assert_eq!(binding["chassis"], CHASSIS, "{ovn:#}");
    // CoPP (Debian 12's Open vSwitch 3.1 does not apply a controller meter to OVN's paused
    // `put_dhcp_opts` packet-ins: a burst of DISCOVERs is answered in full and the meter counts
    // nothing, so no live drop by it can be shown here).
    let meter = &named(&ovn["switches"], "name", "sw0")["copp"][0];
    assert_eq!(meter["protocol"], "dhcpv4-opts", "{ovn:#}");
    assert_eq!(meter["meter"], COPP_METER, "{ovn:#}");
    assert_eq!(
        (meter["rate"].as_i64(), meter["unit"].as_str()),
        (Some(1), Some("pktps"))
    );
    let tree = tracer::run(&["topology"]).unwrap().stdout;
    assert!(tree.contains("logical switch sw0"), "{tree}");
    assert!(
        tree.contains("copp dhcpv4-opts: meter dhcp-meter 1 pktps"),
        "{tree}"
    );
    assert!(
        tree.contains(&format!("port {PORT}")) && tree.contains("bound here"),
        "{tree}"
    );
    let dot = tracer::run(&["topology", "--format", "dot"])
        .unwrap()
        .stdout;
    assert!(
        dot.contains("cluster_ovn") && dot.contains("iface-id"),
        "{dot}"
    );
    // Saved for the parser tests' fixtures, captured from the real servers.
    if let Some(dir) = std::env::var_os("PATHTRACE_RESULTS") {
        for (db, request) in [
            ("OVN_Northbound", pathtrace_nb_request()),
            ("OVN_Southbound", pathtrace_sb_request()),
        ] {
            let sock = if db == "OVN_Northbound" {
                "ovnnb_db"
            } else {
                "ovnsb_db"
            };
            let out = pathtrace_testbed::cmd::run(
                "ovsdb-client",
                &["transact", &format!("unix:/run/ovn/{sock}.sock"), &request],
            )
            .unwrap();
            std::fs::write(std::path::Path::new(&dir).join(format!("{db}.json")), out).unwrap();
        }
        // Every logical flow of the bed, for the drop-flow reader.
        let flows = pathtrace_testbed::cmd::run(
            "ovsdb-client",
            &[
                "transact",
                "unix:/run/ovn/ovnsb_db.sock",
                r#"["OVN_Southbound", {"op":"select","table":"Logical_Flow","where":[],"columns":["_uuid","pipeline","table_id","priority","match","actions","external_ids"]}]"#,
            ],
        )
        .unwrap();
        std::fs::write(
            std::path::Path::new(&dir).join("OVN_Southbound-flows.json"),
            flows,
        )
        .unwrap();
        // The CoPP tables (tracer/src/topology/sources/ovn_copp.rs's request).
        let copp = pathtrace_testbed::cmd::run(
            "ovsdb-client",
            &[
                "transact",
                "unix:/run/ovn/ovnnb_db.sock",
                r#"["OVN_Northbound",
 {"op":"select","table":"Logical_Switch","where":[],"columns":["_uuid","name","copp"]},
 {"op":"select","table":"Copp","where":[],"columns":["_uuid","meters"]},
 {"op":"select","table":"Meter","where":[],"columns":["_uuid","name","unit","bands"]},
 {"op":"select","table":"Meter_Band","where":[],"columns":["_uuid","action","rate","burst_size"]}]"#,
            ],
        )
        .unwrap();
        std::fs::write(
            std::path::Path::new(&dir).join("OVN_Northbound-copp.json"),
            copp,
        )
        .unwrap();
    }
}

/// The NB and SB requests pathtrace sends (tracer/src/topology/sources/ovn_nb.rs, ovn_sb.rs),
/// for capturing replies with ovsdb-client.
fn pathtrace_nb_request() -> String {
    r#"["OVN_Northbound",
 {"op":"select","table":"Logical_Switch","where":[],"columns":["_uuid","name","ports","acls"]},
 {"op":"select","table":"Logical_Switch_Port","where":[],"columns":["_uuid","name","type","addresses","dynamic_addresses","port_security","dhcpv4_options","tag","enabled","up","options"]},
 {"op":"select","table":"DHCP_Options","where":[],"columns":["_uuid","cidr","options"]},
 {"op":"select","table":"ACL","where":[],"columns":["_uuid","priority","direction","match","action","name"]},
 {"op":"select","table":"Port_Group","where":[],"columns":["_uuid","name","ports","acls"]},
 {"op":"select","table":"Logical_Router","where":[],"columns":["_uuid","name","ports","static_routes","nat","enabled"]},
 {"op":"select","table":"Logical_Router_Port","where":[],"columns":["_uuid","name","mac","networks","enabled","peer"]},
 {"op":"select","table":"Logical_Router_Static_Route","where":[],"columns":["_uuid","ip_prefix","nexthop","output_port"]},
 {"op":"select","table":"NAT","where":[],"columns":["_uuid","type","external_ip","logical_ip"]}]"#
        .into()
}

fn pathtrace_sb_request() -> String {
    r#"["OVN_Southbound",
 {"op":"select","table":"Chassis","where":[],"columns":["_uuid","name","hostname","encaps"]},
 {"op":"select","table":"Encap","where":[],"columns":["_uuid","type","ip"]},
 {"op":"select","table":"Port_Binding","where":[["type","==",""]],"columns":["logical_port","chassis","up"]}]"#
        .into()
}

/// Seed 002's routed path: `trace --mac POD --icmp` from the pod on `octbr` to the amphora,
/// without `--dst`, `pings` pings in the pod, started once pathtrace is attached: the first
/// packet says where they go, and is judged with the rest (`count`: the packets to wait for).
/// The path runs octbr -> the provider bridge -> br-int, where OVN's provider switch, the
/// logical router and the tenant switch are hops of their own.
fn octavia_ping(
    lab: &mut Lab,
    topo: &Octavia,
    name: &str,
    (pings, count): (&str, &str),
) -> (i32, Value) {
    let journey = Journey::start(
        lab,
        name,
        &[
            "trace",
            "--mac",
            octavia::POD_MAC,
            "--icmp",
            "--timeout",
            "15",
            "--count",
            count,
        ],
    )
    .unwrap();
    let _ = pathtrace_testbed::cmd::run(
        "ip",
        &[
            "netns",
            "exec",
            &topo.pod,
            "ping",
            "-c",
            pings,
            "-i",
            "0.5",
            "-W",
            "2",
            octavia::AMPHORA_IP,
        ],
    );
    journey.finish()
}

#[test]
fn ovn_routed_path_of_seed_002_is_delivered_through_the_logical_router() {
    let mut lab = Lab::new("ovnoct");
    let topo = Octavia::build(&mut lab).unwrap();
    // One ping: the one request and its reply, both judged.
    let (code, r) = octavia_ping(&mut lab, &topo, "ovn-octavia-routed", ("1", "2"));
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "delivered", "{r:#}");
    assert_eq!(r["destination"]["ip"], octavia::AMPHORA_IP, "{r:#}");
    assert_eq!(packets_going(&r, "outbound").len(), 1, "{r:#}");
    assert_eq!(packets_going(&r, "inbound").len(), 1, "{r:#}");
    assert_eq!(r["lost_events"], 0, "{r:#}");
    let names: Vec<&str> = r["expected_path"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.as_str())
        .collect();
    let at = |n: &str| {
        names
            .iter()
            .position(|h| *h == n)
            .unwrap_or_else(|| panic!("{n} not in {names:?}"))
    };
    assert!(at(&topo.octbr) < at(octavia::PROVIDER_BRIDGE), "{names:?}");
    assert!(at(octavia::PROVIDER_BRIDGE) < at("br-int"), "{names:?}");
    assert_eq!(at("br-int") + 1, at(octavia::ROUTER), "{names:?}");
    assert_eq!(
        at(octavia::ROUTER) + 1,
        at(octavia::TENANT_SWITCH),
        "{names:?}"
    );
    // The same path on its own: the logical hops with their kinds and logical ports.
    let path = tracer::run_json(&[
        "path",
        "--mac",
        octavia::POD_MAC,
        "--dst",
        octavia::AMPHORA_IP,
        "--output",
        "json",
    ])
    .unwrap();
    let int = named(&path["hops"], "name", "br-int");
    assert_eq!(
        int["logical"]["datapath"],
        octavia::PROVIDER_SWITCH,
        "{path:#}"
    );
    let router = named(&path["hops"], "name", octavia::ROUTER);
    assert_eq!(router["kind"], "logical_router", "{path:#}");
    assert_eq!(
        router["logical"]["port"],
        octavia::ROUTER_PROVIDER_PORT,
        "{path:#}"
    );
    let tenant = named(&path["hops"], "name", octavia::TENANT_SWITCH);
    assert_eq!(tenant["kind"], "logical_switch", "{path:#}");
    assert_eq!(path.get("blocked_at"), None, "{path:#}");
    assert_nothing_left(&lab);
}

#[test]
fn ovn_disabled_router_port_of_seed_002_is_named() {
    let mut lab = Lab::new("ovnoctd");
    let topo = Octavia::build(&mut lab).unwrap();
    topo.disable_router_port(octavia::ROUTER_TENANT_PORT)
        .unwrap();
    // Three pings, each stopped at the router from the first one on.
    let (code, r) = octavia_ping(
        &mut lab,
        &topo,
        "ovn-octavia-router-port-disabled",
        ("3", "3"),
    );
    assert_eq!(code, 1, "{r:#}");
    let requests = packets_going(&r, "outbound");
    assert_eq!(requests.len(), 3, "{r:#}");
    for p in &requests {
        assert_eq!(p["stopped_at"]["ifname"], octavia::ROUTER, "{p:#}");
        assert_eq!(p["cause"]["kind"], "ovn_router_port_disabled", "{p:#}");
    }
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["stopped_at"]["ifname"], octavia::ROUTER, "{r:#}");
    assert_eq!(r["stopped_at"]["kind"], "logical_router", "{r:#}");
    let cause = &r["cause"];
    assert_eq!(cause["kind"], "ovn_router_port_disabled", "{r:#}");
    assert_eq!(cause["router"], octavia::ROUTER, "{r:#}");
    assert_eq!(cause["port"], octavia::ROUTER_TENANT_PORT, "{r:#}");
    assert!(reason(&r).contains("disabled"), "{r:#}");
}

/// A drop flow for ICMP on the provider bridge, between the pod's Linux bridge and OVN: each of
/// three pings, the first included, is stopped there by that flow, before OVN sees it.
#[test]
fn ovn_seed_002_pings_dropped_by_a_flow_on_the_provider_bridge_are_each_named() {
    let mut lab = Lab::new("ovnoctf");
    let topo = Octavia::build(&mut lab).unwrap();
    pathtrace_testbed::cmd::run(
        "ovs-ofctl",
        &[
            "add-flow",
            octavia::PROVIDER_BRIDGE,
            "priority=100,icmp,actions=drop",
        ],
    )
    .unwrap();
    let (code, r) = octavia_ping(&mut lab, &topo, "ovn-octavia-drop-flow", ("3", "3"));
    assert_eq!(code, 1, "{r:#}");
    let requests = packets_going(&r, "outbound");
    assert_eq!(requests.len(), 3, "{r:#}");
    for p in &requests {
        assert_eq!(p["stopped_at"]["ifname"], octavia::PROVIDER_BRIDGE, "{p:#}");
        assert_eq!(p["cause"]["kind"], "openflow_drop", "{p:#}");
        assert!(
            p["cause"]["flow"]
                .as_str()
                .unwrap_or_default()
                .contains("icmp"),
            "{p:#}"
        );
    }
    assert_nothing_left(&lab);
}

/// A destination whose logical port another chassis binds: the path leaves br-int by the geneve
/// tunnel to that chassis (the one its endpoint names, among tunnels to others); unbound, OVN
/// drops what is sent to it, and the path says so at br-int.
#[test]
fn ovn_destination_on_another_chassis_leaves_by_its_tunnel() {
    const REMOTE_PORT: &str = "remote-port";
    const REMOTE_IP: &str = "10.77.0.9";
    let mut lab = Lab::new("ovnrem");
    let (ovn, _vm) = build(&mut lab, Fault::None);
    ovn.nbctl(&["lsp-add", "sw0", REMOTE_PORT]).unwrap();
    ovn.nbctl(&[
        "lsp-set-addresses",
        REMOTE_PORT,
        &format!("0a:00:00:00:77:09 {REMOTE_IP}"),
    ])
    .unwrap();
    // A chassis that binds nothing first: its tunnel is not the way.
    ovn.remote_chassis("chassis-idle", "192.0.2.1").unwrap();
    let tunnel = ovn.remote_chassis("chassis-far", "192.0.2.2").unwrap();
    ovn.sbctl(&["lsp-bind", REMOTE_PORT, "chassis-far"])
        .unwrap();
    ovn.sync().unwrap();
    let path = || {
        tracer::run_json(&[
            "path", "--mac", VM_MAC, "--dst", REMOTE_IP, "--output", "json",
        ])
        .unwrap()
    };
    let p = path();
    let hops = p["hops"].as_array().unwrap();
    assert_eq!(hops.last().unwrap()["name"], tunnel.as_str(), "{p:#}");
    let int = named(&p["hops"], "name", "br-int");
    let notes = int["notes"].to_string();
    assert!(notes.contains("bound on chassis chassis-far"), "{p:#}");
    assert!(notes.contains("192.0.2.2"), "{p:#}");
    assert_eq!(p.get("blocked_at"), None, "{p:#}");
    ovn.sbctl(&["lsp-unbind", REMOTE_PORT]).unwrap();
    let p = path();
    let at = p["blocked_at"].as_u64().unwrap() as usize;
    assert_eq!(p["hops"][at - 1]["name"], "br-int", "{p:#}");
    assert!(
        p["hops"][at - 1]["notes"]
            .to_string()
            .contains("remote-port is bound on no chassis"),
        "{p:#}"
    );
}

/// A destination outside every logical port, on the switch's provider network: the way out is
/// the switch's localnet port, and without a bridge mapping for its physical network on this
/// chassis the path stops at br-int; once mapped, it passes.
#[test]
fn ovn_localnet_without_a_bridge_mapping_is_named() {
    let mut lab = Lab::new("ovnlnet");
    let (mut ovn, _vm) = build(&mut lab, Fault::None);
    ovn.nbctl(&["lsp-add", "sw0", "provnet-ext"]).unwrap();
    ovn.nbctl(&["lsp-set-type", "provnet-ext", "localnet"])
        .unwrap();
    ovn.nbctl(&["lsp-set-addresses", "provnet-ext", "unknown"])
        .unwrap();
    ovn.nbctl(&["lsp-set-options", "provnet-ext", "network_name=external"])
        .unwrap();
    ovn.sync().unwrap();
    let path = || {
        tracer::run_json(&[
            "path",
            "--mac",
            VM_MAC,
            "--dst",
            "10.77.0.50",
            "--output",
            "json",
        ])
        .unwrap()
    };
    let p = path();
    let at = p["blocked_at"].as_u64().unwrap() as usize;
    let int = &p["hops"][at - 1];
    assert_eq!(int["name"], "br-int", "{p:#}");
    let notes = int["notes"].to_string();
    assert!(notes.contains("localnet port provnet-ext"), "{p:#}");
    assert!(notes.contains("map to no bridge"), "{p:#}");
    ovn.ovs.bridge("br-ext").unwrap();
    ovn.ovs
        .vsctl(&[
            "set",
            "open",
            ".",
            "external_ids:ovn-bridge-mappings=external:br-ext",
        ])
        .unwrap();
    ovn.sync().unwrap();
    let p = path();
    assert_eq!(p.get("blocked_at"), None, "{p:#}");
}
