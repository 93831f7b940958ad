//! A sustained TCP flow followed on seed 004's whole compute path with the Open vSwitch hooks
//! attached: no event lost, and the segments the VM sent seen at every hop from its tap to the
//! server's port.

use std::{
    collections::HashMap,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use pathtrace_testbed::{
    cmd::run,
    topologies::{BridgeLink, Seed004},
    tracer::named,
    Lab, Tracer,
};
use serde_json::Value;

/// Seconds of traffic: long enough for the ring to fill many times over if the reader lagged.
const IPERF_SECONDS: &str = "4";
/// The flow's rate. Under TCG an unpaced iperf3 takes both vCPUs (2.4-2.8 Gbit/s, ~120,000
/// events/s on this path) and leaves pathtrace too little CPU to keep up: 60-70 % of the events
/// were lost, and counted, with the release build. Paced, the flow is still thousands of
/// segments, each followed across eleven hooks.
const IPERF_BITRATE: &str = "200M";
/// Fewer segments than this and the flow proves nothing about keeping up.
const MIN_SEGMENTS: u64 = 1_000;
const VM_ADDR: &str = "10.10.10.50/24";
/// The address seed 004 gives the DHCP server's port, where the iperf3 server listens.
const SERVER_ADDR: &str = "10.10.10.3";

/// Hops seen, by (netns, ifname, hook).
type HopCounts = HashMap<(String, String, String), u64>;

/// Hops of the VM-to-server direction, as (netns, ifname, hook), in path order.
fn points(topo: &Seed004) -> Vec<(String, String, &'static str)> {
    let root = |i: &str, h| ("root".to_string(), i.to_string(), h);
    vec![
        root(&topo.tap, "ingress"),
        root(&topo.qvb, "egress"),
        root(&topo.qvo, "ingress"),
        root(&topo.qvo, "ovs-receive"),
        root("eth2", "ovs-send"),
        root("eth2", "egress"),
        root("eth2-net", "ingress"),
        root("eth2-net", "ovs-receive"),
        (topo.qdhcp.clone(), "tapdhcp".to_string(), "ingress"),
    ]
}

fn wait_for_listener(netns: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let out = run(
            "ip",
            &["netns", "exec", netns, "ss", "-Hltn", "sport = :5201"],
        )
        .unwrap();
        if !out.trim().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("iperf3 -s did not listen in {netns}");
}

#[test]
fn seed004_tcp_flow_is_followed_on_its_whole_path_with_nothing_lost() {
    let mut lab = Lab::new("s004r");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).unwrap();
    lab.addr(&topo.vm, "eth0", VM_ADDR).unwrap();
    let server = Command::new("ip")
        .args(["netns", "exec", &topo.qdhcp, "iperf3", "-s", "-1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lab.adopt(server);
    wait_for_listener(&topo.qdhcp);

    let points = points(&topo);
    let mut args = vec![
        "trace".to_string(),
        "--output".into(),
        "json".into(),
        "--filter-mac".into(),
        topo.vm_mac.into(),
        "--filter-proto".into(),
        "tcp".into(),
    ];
    for (netns, ifname, _) in &points {
        let iface = format!("{netns}:{ifname}");
        if !args.contains(&iface) {
            args.extend(["-i".to_string(), iface]);
        }
    }
    // Counted as they stream by: a flow at full speed prints more than a test should keep.
    let counts: Arc<Mutex<HopCounts>> = Arc::default();
    let tracer = Tracer::start_streaming(&args.iter().map(String::as_str).collect::<Vec<_>>(), {
        let counts = counts.clone();
        let vm_mac = topo.vm_mac;
        move |line| {
            let h: Value = serde_json::from_str(line).expect("a JSON record");
            if h["type"] == "hop" && h["src_mac"] == vm_mac {
                let s = |k: &str| h[k].as_str().unwrap_or_default().to_string();
                *counts
                    .lock()
                    .unwrap()
                    .entry((s("netns"), s("ifname"), s("hook")))
                    .or_default() += 1;
            }
        }
    })
    .unwrap();
    let iperf = run(
        "ip",
        &[
            "netns",
            "exec",
            &topo.vm,
            "iperf3",
            "-c",
            SERVER_ADDR,
            "-t",
            IPERF_SECONDS,
            "-b",
            IPERF_BITRATE,
        ],
    )
    .unwrap();
    let out = tracer.stop(libc::SIGINT).unwrap();
    assert!(out.status.success(), "{out:?}\niperf3: {iperf}");
    let summary: Value = serde_json::from_str(&out.stdout).expect("the summary record");
    assert_eq!(summary["type"], "summary", "{summary}");
    for hook in ["kprobe/ovs_vport_receive", "kprobe/ovs_vport_send"] {
        assert_eq!(
            named(&summary["hooks"], "hook", hook)["active"],
            true,
            "{summary}"
        );
    }
    assert_eq!(summary["lost_events"], 0, "{summary}\niperf3: {iperf}");
    let timings = &summary["timings"];
    eprintln!("start-up phases in this VM: {timings}");
    assert!(timings["to_attached_ms"].as_f64().is_some(), "{summary}");

    let counts = counts.lock().unwrap();
    let at = |(netns, ifname, hook): &(String, String, &str)| {
        counts
            .get(&(netns.clone(), ifname.clone(), hook.to_string()))
            .copied()
            .unwrap_or(0)
    };
    let sent = at(&points[0]);
    eprintln!("segments from the VM per hop: {counts:?}\niperf3: {iperf}");
    assert!(
        sent >= MIN_SEGMENTS,
        "only {sent} segments at the tap: {counts:?}"
    );
    for p in &points[1..] {
        // The kernel may drop a segment on its own (a full backlog) and TCP resends it; a hop
        // that pathtrace failed to report would show as a large gap, not one of a few.
        let seen = at(p);
        assert!(
            seen * 1000 >= sent * 995,
            "{p:?}: {seen} of the {sent} segments seen at the tap: {counts:?}"
        );
    }
}
