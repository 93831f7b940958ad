//! `trace --mac MAC` without `--dst`: one load, before the sender's first packet, watching
//! everywhere a frame from the MAC can go (its layer-2 domain, the router namespace on it and
//! what lies behind); the first packet says where they go, and is judged with the rest. What
//! people actually run: one ping, three pings, one connection attempt.

use pathtrace_testbed::{
    cmd::{in_netns, ip},
    journey_run::{packets_going, Journey},
    kernel_state::assert_nothing_left,
    serial,
    topologies::{LinuxComputeNode, RoutedNetwork},
    tracer, Lab,
};
use serde_json::Value;

/// `trace --mac VM --MODE --count N` without `--dst`, started before `send` runs in the VM.
fn traced(lab: &mut Lab, name: &str, vm: (&str, &str), mode: &str, count: &str) -> Journey {
    Journey::start(
        lab,
        name,
        &[
            "trace",
            "--mac",
            vm.1,
            mode,
            "--count",
            count,
            "--timeout",
            "12",
        ],
    )
    .unwrap()
}

/// The names of a packet's hops where a hook saw it.
fn seen_at(p: &Value) -> Vec<&str> {
    p["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["inferred"] == false && h["hook"] != "drop")
        .filter_map(|h| h["name"].as_str())
        .collect()
}

/// One ping through the router namespace: the one echo request is judged, delivered to the
/// far namespace past the router (where it no longer carries the VM's MAC), and its reply too.
#[test]
fn one_ping_through_a_router_is_judged_without_a_destination() {
    let _serial = serial();
    let mut lab = Lab::new("fp1");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    let routed = RoutedNetwork::add(&mut lab, &topo).unwrap();
    let journey = traced(
        &mut lab,
        "host-first-ping",
        (&topo.vm, &topo.vm_mac),
        "--icmp",
        "2",
    );
    in_netns(&topo.vm, "ping", &["-c", "1", "-W", "2", routed.far_ip]).unwrap();
    let (code, r) = journey.finish();
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "delivered", "{r:#}");
    assert_eq!(r["destination"]["ip"], routed.far_ip, "{r:#}");
    let out = packets_going(&r, "outbound");
    assert_eq!(out.len(), 1, "the one request: {r:#}");
    assert_eq!(out[0]["verdict"], "delivered", "{r:#}");
    let hops = seen_at(out[0]);
    for h in ["eth0", "tapvm", "qvo", "brs", "r0", "r1"] {
        assert!(hops.contains(&h), "{h} not in {hops:?}");
    }
    let back = packets_going(&r, "inbound");
    assert_eq!(back.len(), 1, "its reply: {r:#}");
    assert_eq!(back[0]["verdict"], "delivered", "{r:#}");
    assert_nothing_left(&lab);
}

/// Three pings with the router's port to the far network down: each of the three is judged,
/// stopped at the router, whose kernel says it has no route, from the first one on.
#[test]
fn three_pings_into_a_router_without_a_route_are_each_stopped_there() {
    let _serial = serial();
    let mut lab = Lab::new("fp3");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    let routed = RoutedNetwork::add(&mut lab, &topo).unwrap();
    ip(&topo.srv, &["link", "set", "r0", "down"]).unwrap();
    // Each request, and the router's "unreachable" answer to it.
    let journey = traced(
        &mut lab,
        "host-first-pings-no-route",
        (&topo.vm, &topo.vm_mac),
        "--icmp",
        "6",
    );
    let _ = in_netns(
        &topo.vm,
        "ping",
        &["-c", "3", "-i", "0.3", "-W", "1", routed.far_ip],
    );
    let (code, r) = journey.finish();
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["stopped_at"]["ifname"], "brs", "{r:#}");
    assert_eq!(r["cause"]["kind"], "kernel_drop", "{r:#}");
    let out = packets_going(&r, "outbound");
    assert_eq!(out.len(), 3, "all three requests: {r:#}");
    // The router's answers name it as their sender.
    let answers = packets_going(&r, "inbound");
    assert!(
        answers.iter().all(|p| p["summary"]
            .as_str()
            .unwrap_or_default()
            .starts_with("ICMP destination unreachable (code 0) from 10.78.0.1")),
        "{r:#}"
    );
    for p in out {
        assert_eq!(p["verdict"], "stopped", "{p:#}");
        assert_eq!(p["stopped_at"]["ifname"], "brs", "{p:#}");
        assert!(
            p["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("NOROUTES"),
            "{p:#}"
        );
    }
    assert_nothing_left(&lab);
}

/// One TCP SYN to a closed port behind the router: the SYN reaches the far namespace, whose
/// kernel answers with a reset, and both are judged and named.
#[test]
fn one_syn_to_a_closed_port_behind_a_router_is_answered_by_a_reset() {
    let _serial = serial();
    let mut lab = Lab::new("fpsyn");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    let routed = RoutedNetwork::add(&mut lab, &topo).unwrap();
    let journey = traced(
        &mut lab,
        "host-first-syn",
        (&topo.vm, &topo.vm_mac),
        "--tcp",
        "2",
    );
    // bash's /dev/tcp connects once: one SYN, refused.
    let connect = format!("echo > /dev/tcp/{}/9", routed.far_ip);
    assert!(in_netns(&topo.vm, "timeout", &["3", "bash", "-c", &connect]).is_err());
    let (code, r) = journey.finish();
    assert_eq!(code, 0, "{r:#}");
    let syn = packets_going(&r, "outbound");
    assert_eq!(syn.len(), 1, "{r:#}");
    assert_eq!(syn[0]["tcp_flags"], serde_json::json!(["syn"]), "{r:#}");
    assert_eq!(syn[0]["verdict"], "delivered", "{r:#}");
    assert!(seen_at(syn[0]).contains(&"r1"), "{r:#}");
    let reset = packets_going(&r, "inbound");
    assert_eq!(reset.len(), 1, "{r:#}");
    let flags = reset[0]["tcp_flags"].as_array().unwrap();
    assert!(flags.iter().any(|f| f == "rst"), "{r:#}");
    assert!(
        reset[0]["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("RST"),
        "{r:#}"
    );
    assert_eq!(reset[0]["verdict"], "delivered", "{r:#}");
    assert_nothing_left(&lab);
}

/// A destination no path on this host leads to (the VM's gateway is a MAC nobody has, and no
/// router here routes the address): a verdict with exit 1 naming where the packet was last
/// seen, not exit 2; and `path --mac` without a goal shows where a frame from the VM can go.
#[test]
fn a_destination_on_no_known_path_is_a_verdict_and_path_shows_the_reach() {
    let _serial = serial();
    let mut lab = Lab::new("fpnowhere");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    RoutedNetwork::add(&mut lab, &topo).unwrap();
    let reach = tracer::run_json(&["path", "--mac", &topo.vm_mac, "--output", "json"]).unwrap();
    let domains = reach["domains"].as_array().unwrap();
    assert_eq!(domains.len(), 2, "{reach:#}");
    let names = |d: &Value| -> Vec<String> {
        d["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    for l in ["eth0", "tapvm", "qbr", "qvb", "qvo", "brs"] {
        assert!(names(&domains[0]).iter().any(|n| n == l), "{l}: {reach:#}");
    }
    assert_eq!(domains[1]["via"]["netns"], topo.srv, "{reach:#}");
    assert!(names(&domains[1]).iter().any(|n| n == "r1"), "{reach:#}");
    let text = tracer::run(&["path", "--mac", &topo.vm_mac]).unwrap();
    assert!(text.status.success(), "{text:?}");
    assert!(text.stdout.contains("behind router"), "{}", text.stdout);
    // The gateway's MAC is nobody's: the frame floods the VM's layer-2 domain and goes no
    // further; no router here has a route to the address.
    in_netns(
        &topo.vm,
        "ip",
        &[
            "neigh",
            "replace",
            "10.78.0.1",
            "lladdr",
            "02:00:5e:00:99:99",
            "dev",
            "eth0",
            "nud",
            "permanent",
        ],
    )
    .unwrap();
    let nowhere = "192.0.2.7";
    let journey = traced(
        &mut lab,
        "host-first-nowhere",
        (&topo.vm, &topo.vm_mac),
        "--icmp",
        "1",
    );
    let _ = in_netns(&topo.vm, "ping", &["-c", "1", "-W", "1", nowhere]);
    let (code, r) = journey.finish();
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["cause"]["kind"], "destination_unplaced", "{r:#}");
    assert_eq!(r["cause"]["ip"], nowhere, "{r:#}");
    let at = r["stopped_at"]["ifname"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        at != "eth0" && names(&domains[0]).contains(&at),
        "seen farthest on the VM's own domain: {r:#}"
    );
    assert_nothing_left(&lab);
}
