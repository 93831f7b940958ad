//! Integration tests on the host kernel: real namespaces, veth pairs, a Linux bridge, dnsmasq
//! and DHCP clients, the real pathtrace binary with its eBPF programs attached. Need root.

use pathtrace_testbed::{
    cmd::{in_netns, ping, run},
    dhcp::{acquire_lease, DhcpClient},
    journeys::{assert_hops_are_where_they_say, by_fingerprint, place},
    kernel_state::{
        assert_nothing_left, assert_nothing_left_in, attached_programs, filters, qdisc_kinds,
    },
    scenarios, serial,
    topologies::{DhcpOnBridge, LinuxComputeNode},
    tracer, Lab, Tracer,
};
use serde_json::Value;

#[path = "host/first_packet.rs"]
mod first_packet;
#[path = "host/journeys.rs"]
mod journeys;
#[path = "host/signals.rs"]
mod signals;

fn trace_args<'a>(extra: &[&'a str], ifaces: &'a [String]) -> Vec<&'a str> {
    let mut args = vec!["trace", "--output", "json"];
    for i in ifaces {
        args.extend(["-i", i.as_str()]);
    }
    args.extend_from_slice(extra);
    args
}

/// (netns, ifname, hook) of each hop of one DHCP message type.
fn path_of(hops: &[Value], message: &str) -> Vec<(String, String, String)> {
    hops.iter()
        .filter(|h| h["dhcp"]["message"] == message)
        .map(|h| {
            (
                h["netns"].as_str().unwrap().to_string(),
                h["ifname"].as_str().unwrap().to_string(),
                h["hook"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_subsequence(path: &[(String, String, String)], expected: &[(&str, &str, &str)]) {
    let mut it = path.iter();
    for want in expected {
        assert!(
            it.any(|(n, i, h)| (n.as_str(), i.as_str(), h.as_str()) == *want),
            "hop {want:?} missing or out of order in {path:#?}"
        );
    }
}

fn dhcp_exchange(client: DhcpClient) {
    let _serial = serial();
    let mut lab = Lab::new("dhcp");
    let topo = DhcpOnBridge::build(&mut lab).unwrap();
    let ifaces = topo.interface_args();
    let args = trace_args(
        &["--filter-dhcp", "--filter-mac", &topo.client_mac],
        &ifaces,
    );
    let tracer = Tracer::start(&args).unwrap();
    let leased = acquire_lease(&mut lab, &topo.client, "eth0", client).unwrap();
    let out = tracer.stop(libc::SIGINT).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        leased, topo.reserved_ip,
        "the lease must be the host-file entry"
    );

    let hops = out.hops();
    let (c, sw, s) = (
        topo.client.as_str(),
        topo.switch.as_str(),
        topo.server.as_str(),
    );
    let request_path = [
        (c, "eth0", "egress"),
        (sw, "c0", "ingress"),
        (sw, "s0", "egress"),
        (s, "eth0", "ingress"),
    ];
    let reply_path = [
        (s, "eth0", "egress"),
        (sw, "s0", "ingress"),
        (sw, "c0", "egress"),
        (c, "eth0", "ingress"),
    ];
    assert_subsequence(&path_of(&hops, "DISCOVER"), &request_path);
    assert_subsequence(&path_of(&hops, "OFFER"), &reply_path);
    assert_subsequence(&path_of(&hops, "REQUEST"), &request_path);
    assert_subsequence(&path_of(&hops, "ACK"), &reply_path);
    for h in &hops {
        assert_eq!(h["dhcp"]["chaddr"], topo.client_mac.as_str(), "{h}");
        if h["hook"] == "drop" {
            // e.g. QUEUE_PURGE when a client closes its socket: no device any more.
            continue;
        }
        assert!(h["ifindex"].as_u64().unwrap() > 0, "{h}");
        assert_ne!(h["netns_ino"], 0, "{h}");
    }
    // One fingerprint per packet: every hop of one message (type, xid, secs) carries the same
    // fingerprint, and no two messages share one.
    for (fp, group) in by_fingerprint(&hops) {
        let ids: std::collections::BTreeSet<_> = group
            .iter()
            .map(|h| {
                (
                    h["dhcp"]["message"].to_string(),
                    h["dhcp"]["xid"].to_string(),
                    h["dhcp"]["secs"].to_string(),
                )
            })
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "fingerprint {fp} spans several messages: {ids:?}"
        );
    }
    let discover_fps: std::collections::BTreeSet<_> = hops
        .iter()
        .filter(|h| h["dhcp"]["message"] == "DISCOVER" && h["dhcp"]["secs"] == 0)
        .map(|h| h["fingerprint"].to_string())
        .collect();
    assert_eq!(discover_fps.len(), 1, "first DISCOVER: {discover_fps:?}");
    assert_hops_are_where_they_say(&hops);
    // One transaction: DISCOVER and REQUEST of one exchange share the xid.
    let xid =
        |m: &str| hops.iter().find(|h| h["dhcp"]["message"] == m).unwrap()["dhcp"]["xid"].clone();
    assert_eq!(xid("DISCOVER"), xid("ACK"));
    let summary = out.summary();
    assert_eq!(summary["events"].as_u64().unwrap() as usize, hops.len());
    assert_eq!(summary["lost_events"], 0);
    assert_nothing_left(&lab);
}

#[test]
fn dhclient_exchange_is_followed_across_veth_and_bridge() {
    dhcp_exchange(DhcpClient::Dhclient);
}

#[test]
fn udhcpc_exchange_is_followed_across_veth_and_bridge() {
    dhcp_exchange(DhcpClient::Udhcpc);
}

/// Two namespaces joined by one veth pair, addresses 10.88.0.1 and .2.
fn veth_pair(lab: &mut Lab) -> (String, String) {
    let a = lab.netns("a").unwrap();
    let b = lab.netns("b").unwrap();
    lab.veth((&a, "va"), (&b, "vb")).unwrap();
    lab.addr(&a, "va", "10.88.0.1/24").unwrap();
    lab.addr(&b, "vb", "10.88.0.2/24").unwrap();
    (a, b)
}

fn ping_is_seen_then_signal_cleans_up(signal: i32, mode: &str) {
    let _serial = serial();
    let mut lab = Lab::new("sig");
    let (a, b) = veth_pair(&mut lab);
    let mac_a = lab.mac_of(&a, "va").unwrap();
    let ifaces = [format!("{a}:va"), format!("{b}:vb")];
    let args = trace_args(&["--filter-mac", &mac_a, "--tc-attach", mode], &ifaces);
    let tracer = Tracer::start(&args).unwrap();
    let attached = attached_programs(&a).unwrap();
    assert_eq!(attached.len(), 2, "ingress and egress on va: {attached:?}");
    ping(&a, "10.88.0.2", "3");
    let out = tracer.stop(signal).unwrap();
    assert!(out.status.success(), "{out:?}");
    let hops = out.hops();
    let icmp = |h: &&Value| h["ip"]["proto"] == 1;
    let at = |ns: &str, dev: &str, hook: &str| {
        hops.iter()
            .filter(icmp)
            .filter(|h| h["netns"] == ns && h["ifname"] == dev && h["hook"] == hook)
            .count()
    };
    // 3 requests leave va and enter vb; 3 replies leave vb and enter va.
    assert_eq!(at(&a, "va", "egress"), 6 / 2, "{hops:#?}");
    assert_eq!(at(&b, "vb", "ingress"), 3);
    assert_eq!(at(&b, "vb", "egress"), 3);
    assert_eq!(at(&a, "va", "ingress"), 3);
    // Programs, filters and an emptied clsact of ours, in every namespace of the lab.
    assert_nothing_left(&lab);
}

/// SIGINT, SIGTERM and SIGHUP at every moment of a run (discovery, loading, attaching 24
/// interfaces through netlink with clsact qdiscs of its own, capturing): pathtrace ends by
/// itself, never killed by the signal, and leaves no filter, qdisc or program behind. A signal
/// before the capture used to kill it wherever it was.
#[test]
fn signals_at_any_moment_leave_nothing_behind() {
    let _serial = serial();
    let mut lab = Lab::new("anysig");
    let a = lab.netns("a").unwrap();
    let b = lab.netns("b").unwrap();
    let pairs = 12;
    for i in 0..pairs {
        lab.veth((&a, &format!("a{i}")), (&b, &format!("b{i}")))
            .unwrap();
    }
    let ifaces = [format!("{a}:*"), format!("{b}:*")];
    let args = trace_args(&["--tc-attach", "netlink"], &ifaces);
    let signals = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
    // Generous for exec and the dynamic loader on a loaded CI machine.
    const HANDLERS_INSTALLED_MS: u64 = 40;
    for (n, delay_ms) in [0u64, 15, 40, 80, 130, 200, 300, 450, 700, 1100, 1800]
        .into_iter()
        .enumerate()
    {
        let signal = signals[n % signals.len()];
        let mut child = std::process::Command::new(tracer::pathtrace_bin())
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // SAFETY: plain kill(2) on our child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "signal {signal} at {delay_ms} ms: pathtrace did not end"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        // Only a signal that comes before `main` installed its handlers (nothing attached
        // yet) may still end the process the default way.
        assert!(
            status.code().is_some() || delay_ms < HANDLERS_INSTALLED_MS,
            "signal {signal} at {delay_ms} ms killed pathtrace: {status:?}\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        // Includes a clsact of ours left on any of the 24 links.
        assert_nothing_left(&lab);
    }
}

/// A namespace of traced interfaces deleted mid-trace, and an interface deleted on its own:
/// the trace goes on where it still can, says which hop vanished and how (an event when it
/// goes, the list in the summary), ends cleanly (the interface that went with it is a cleanup
/// warning, not an error that throws the summary away), and leaves nothing in the namespaces
/// that remain.
#[test]
fn a_namespace_deleted_mid_trace_does_not_end_the_trace() {
    let _serial = serial();
    let mut lab = Lab::new("gone");
    let (a, b) = veth_pair(&mut lab);
    let doomed = lab.netns("doomed").unwrap();
    lab.veth((&a, "vd"), (&doomed, "vz")).unwrap();
    lab.veth((&a, "vx"), (&b, "vy")).unwrap();
    let mac_a = lab.mac_of(&a, "va").unwrap();
    let ifaces = [format!("{a}:va"), format!("{doomed}:vz"), format!("{a}:vx")];
    let args = trace_args(&["--filter-mac", &mac_a, "--tc-attach", "netlink"], &ifaces);
    let tracer = Tracer::start(&args).unwrap();
    run("ip", &["netns", "del", &doomed]).unwrap();
    run("ip", &["-n", &a, "link", "del", "vx"]).unwrap();
    ping(&a, "10.88.0.2", "2");
    let out = tracer.stop(libc::SIGINT).unwrap();
    let events: Vec<(String, String, String)> = out
        .records()
        .iter()
        .filter(|r| r["type"] == "vanished")
        .map(|r| {
            (
                r["netns"].as_str().unwrap().to_string(),
                r["ifname"].as_str().unwrap().to_string(),
                r["gone"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        (doomed.clone(), "vz".to_string(), "namespace".to_string()),
        (a.clone(), "vx".to_string(), "interface".to_string()),
    ];
    for w in &want {
        assert!(
            events.contains(w),
            "{w:?} not in {events:?}\n{}",
            out.stdout
        );
    }
    assert_eq!(
        out.summary()["vanished"].as_array().unwrap().len(),
        2,
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(&format!("{doomed}:vz vanished")),
        "{}",
        out.stderr
    );
    assert!(out.status.success(), "{out:?}");
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    // Not a terminal: its warnings carry no colour codes either.
    assert!(!out.stderr.contains('\u{1b}'), "{}", out.stderr);
    let hops = out.hops();
    assert!(
        hops.iter()
            .any(|h| h["ifname"] == "va" && h["ip"]["proto"] == 1),
        "the pings after the deletion: {hops:#?}"
    );
    assert_eq!(out.summary()["type"], "summary", "{}", out.stdout);
    assert_nothing_left_in(&[a.clone(), b.clone()], lab.host_links());
}

/// A DHCP client need not put the message type (option 53) first: here it comes fifth, after a
/// hostname, a client id, a maximum size and a parameter list. It is still a DISCOVER (it used
/// to read as a BOOTREQUEST: only three options were scanned).
#[test]
fn the_dhcp_message_type_is_found_behind_other_options() {
    let _serial = serial();
    let mut lab = Lab::new("opt53");
    let (a, b) = veth_pair(&mut lab);
    let mac_a = lab.mac_of(&a, "va").unwrap();
    let ifaces = [format!("{a}:va"), format!("{b}:vb")];
    let args = trace_args(&["--filter-dhcp", "--count", "2"], &ifaces);
    let tracer = Tracer::start(&args).unwrap();
    const SEND_DISCOVER: &str = r#"
import socket, struct, sys
ifname, mac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", ""))
opts = (bytes([12, 4]) + b"host" + bytes([61, 7, 1]) + mac + bytes([57, 2, 5, 220])
        + bytes([55, 3, 1, 3, 6]) + bytes([53, 1, 1]) + bytes([255]))
bootp = (struct.pack("!BBBBIHH16s16s64s128s", 1, 1, 6, 0, 0x1234ABCD, 0, 0x8000, bytes(16),
                     mac + bytes(10), bytes(64), bytes(128))
         + bytes([99, 130, 83, 99]) + opts)
udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, bytes(4), b"\xff" * 4)
s = sum(struct.unpack("!10H", ip))
s = (s >> 16) + (s & 0xFFFF)
s += s >> 16
ip = ip[:10] + struct.pack("!H", ~s & 0xFFFF) + ip[12:]
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind((ifname, 0))
raw.send(b"\xff" * 6 + mac + b"\x08\x00" + ip + udp)
"#;
    in_netns(&a, "python3", &["-c", SEND_DISCOVER, "va", &mac_a]).unwrap();
    let out = tracer.wait_for(std::time::Duration::from_secs(20)).unwrap();
    assert!(out.status.success(), "{out:?}");
    let hops = out.hops();
    for (ns, dev, hook) in [(&a, "va", "egress"), (&b, "vb", "ingress")] {
        let hop = hops
            .iter()
            .find(|h| h["netns"] == ns.as_str() && h["ifname"] == dev && h["hook"] == hook)
            .unwrap_or_else(|| panic!("not seen at {dev} {hook}: {hops:#?}"));
        assert_eq!(hop["dhcp"]["message"], "DISCOVER", "{hop:#}");
        assert_eq!(hop["dhcp"]["xid"], "0x1234abcd", "{hop:#}");
    }
    assert_nothing_left(&lab);
}

/// SIGKILL runs no cleanup at all: with tcx, the links are the process's file descriptors and
/// go with it.
#[test]
fn sigkill_with_tcx_leaves_nothing() {
    let _serial = serial();
    let mut lab = Lab::new("kill");
    let (a, b) = veth_pair(&mut lab);
    let mac_a = lab.mac_of(&a, "va").unwrap();
    let ifaces = [format!("{a}:va"), format!("{b}:vb")];
    let args = trace_args(&["--filter-mac", &mac_a, "--tc-attach", "tcx"], &ifaces);
    let tracer = Tracer::start(&args).unwrap();
    assert_eq!(attached_programs(&a).unwrap().len(), 2);
    let out = tracer.stop(libc::SIGKILL).unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(libc::SIGKILL)
    );
    assert_nothing_left(&lab);
}

/// `pathtrace trace ... | head`: once nobody reads, pathtrace stops by itself, detaches like on
/// Ctrl-C and exits 0; it used to panic in `println!` (exit 101) with its probes attached.
#[test]
fn a_reader_that_goes_away_ends_the_trace_cleanly() {
    let _serial = serial();
    let mut lab = Lab::new("pipe");
    let (a, b) = veth_pair(&mut lab);
    let mac_a = lab.mac_of(&a, "va").unwrap();
    let ifaces = [format!("{a}:va"), format!("{b}:vb")];
    let args = trace_args(&["--filter-mac", &mac_a], &ifaces);
    let tracer = Tracer::start_unread(&args).unwrap();
    ping(&a, "10.88.0.2", "3");
    let out = tracer.wait_for(std::time::Duration::from_secs(20)).unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_nothing_left(&lab);
}

#[test]
fn sigint_detaches_everything_tcx() {
    ping_is_seen_then_signal_cleans_up(libc::SIGINT, "auto");
}

#[test]
fn sigterm_detaches_everything_tcx() {
    ping_is_seen_then_signal_cleans_up(libc::SIGTERM, "tcx");
}

#[test]
fn sigterm_detaches_everything_netlink() {
    ping_is_seen_then_signal_cleans_up(libc::SIGTERM, "netlink");
}

#[test]
fn netlink_fallback_keeps_foreign_filters_and_qdiscs() {
    let _serial = serial();
    let mut lab = Lab::new("nl");
    let (a, b) = veth_pair(&mut lab);
    // Someone else's clsact and filter on va; nothing on vb.
    in_netns(&a, "tc", &["qdisc", "add", "dev", "va", "clsact"]).unwrap();
    // A classic-BPF classifier returning 0 ("no match"): harmless, and cls_bpf is the one
    // classifier every kernel that runs pathtrace has.
    in_netns(
        &a,
        "tc",
        &[
            "filter",
            "add",
            "dev",
            "va",
            "ingress",
            "pref",
            "10",
            "bpf",
            "bytecode",
            "1,6 0 0 0,",
        ],
    )
    .unwrap();
    let mac_a = lab.mac_of(&a, "va").unwrap();
    let ifaces = [format!("{a}:va"), format!("{b}:vb")];
    let args = trace_args(&["--filter-mac", &mac_a, "--tc-attach", "netlink"], &ifaces);
    let tracer = Tracer::start(&args).unwrap();
    // While tracing: our cls_bpf filter sits next to the foreign one, and vb got a clsact.
    let during = filters(&a, "va", "ingress").unwrap();
    assert!(
        during.contains("bytecode") && during.contains("pathtrace_tc_in"),
        "{during}"
    );
    assert!(qdisc_kinds(&b, "vb")
        .unwrap()
        .contains(&"clsact".to_string()));
    ping(&a, "10.88.0.2", "2");
    let out = tracer.stop(libc::SIGINT).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out
        .hops()
        .iter()
        .any(|h| h["ifname"] == "va" && h["hook"] == "ingress"));
    // After: the foreign filter and qdisc survive, ours are gone, vb's clsact (ours) is gone.
    let after = filters(&a, "va", "ingress").unwrap();
    assert!(
        after.contains("bytecode"),
        "foreign filter removed: {after}"
    );
    assert!(!after.contains("pathtrace"), "our filter left: {after}");
    assert!(qdisc_kinds(&a, "va")
        .unwrap()
        .contains(&"clsact".to_string()));
    assert!(!qdisc_kinds(&b, "vb")
        .unwrap()
        .contains(&"clsact".to_string()));
    assert!(filters(&b, "vb", "ingress").unwrap().trim().is_empty());
}

#[test]
fn non_matching_traffic_produces_no_events() {
    let _serial = serial();
    let mut lab = Lab::new("nomatch");
    let (a, b) = veth_pair(&mut lab);
    let unused = lab.next_mac();
    let ifaces = [format!("{a}:va"), format!("{b}:vb")];
    let args = trace_args(&["--filter-mac", &unused], &ifaces);
    let tracer = Tracer::start(&args).unwrap();
    ping(&a, "10.88.0.2", "5");
    let out = tracer.stop(libc::SIGINT).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.hops().len(), 0, "{}", out.stdout);
    assert_eq!(out.summary()["events"], 0);
    // Read from the kernel (bpf_prog_info.recursion_misses), not assumed: null if unreadable.
    assert_eq!(out.summary()["missed_runs"], 0, "{}", out.stdout);
}

#[test]
fn nftables_drop_is_reported_with_its_reason() {
    nftables_drop_with("auto", "tp_btf/kfree_skb");
}

#[test]
fn nftables_drop_is_reported_by_the_classic_tracepoint_fallback() {
    nftables_drop_with("tracepoint", "tracepoint/skb:kfree_skb");
}

fn nftables_drop_with(drop_hook: &str, expected_hook: &str) {
    let _serial = serial();
    let mut lab = Lab::new("drop");
    let (a, b) = veth_pair(&mut lab);
    in_netns(
        &b,
        "nft",
        &["add table inet pt; add chain inet pt in { type filter hook input priority 0; }; add rule inet pt in icmp type echo-request drop"],
    )
    .unwrap();
    let mac_a = lab.mac_of(&a, "va").unwrap();
    let ifaces = [format!("{a}:va"), format!("{b}:vb")];
    let args = trace_args(&["--filter-mac", &mac_a, "--drop-hook", drop_hook], &ifaces);
    let tracer = Tracer::start(&args).unwrap();
    let _ = run(
        "ip",
        &[
            "netns",
            "exec",
            &a,
            "ping",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "1",
            "10.88.0.2",
        ],
    );
    let out = tracer.stop(libc::SIGINT).unwrap();
    let hooks = &out.summary()["hooks"];
    assert!(
        hooks
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["hook"] == expected_hook && h["active"] == true),
        "{hooks}"
    );
    let drops: Vec<_> = out
        .hops()
        .into_iter()
        .filter(|h| h["hook"] == "drop")
        .collect();
    assert!(
        drops.iter().any(|d| d["drop_reason"] == "NETFILTER_DROP"
            && d["netns"] == b.as_str()
            && d["ip"]["proto"] == 1),
        "no NETFILTER_DROP of the ICMP request in {b}: {drops:#?}"
    );
    // The dropped request is the packet that left va: same fingerprint.
    let hops = out.hops();
    let dropped = drops
        .iter()
        .find(|d| d["drop_reason"] == "NETFILTER_DROP")
        .unwrap();
    assert!(hops
        .iter()
        .any(|h| h["fingerprint"] == dropped["fingerprint"]
            && h["ifname"] == "va"
            && h["hook"] == "egress"));
}

/// a:eth0 ── pa [sw: br0] pb ── b:eth0, 10.89.0.1 and .2.
fn bridged_pair(lab: &mut Lab) -> (String, String, String) {
    let a = lab.netns("a").unwrap();
    let sw = lab.netns("sw").unwrap();
    let b = lab.netns("b").unwrap();
    lab.veth((&a, "eth0"), (&sw, "pa")).unwrap();
    lab.veth((&b, "eth0"), (&sw, "pb")).unwrap();
    lab.bridge(&sw, "br0", &["pa", "pb"]).unwrap();
    lab.addr(&a, "eth0", "10.89.0.1/24").unwrap();
    lab.addr(&b, "eth0", "10.89.0.2/24").unwrap();
    (a, sw, b)
}

#[test]
fn ping_across_a_bridge_is_one_fingerprint_per_packet_hop_by_hop() {
    let _serial = serial();
    let mut lab = Lab::new("fp");
    let (a, sw, b) = bridged_pair(&mut lab);
    let mac_a = lab.mac_of(&a, "eth0").unwrap();
    let ifaces = [format!("{a}:eth0"), format!("{sw}:*"), format!("{b}:eth0")];
    let args = trace_args(
        &[
            "--filter-mac",
            &mac_a,
            "--filter-proto",
            "icmp",
            "--snapshot-len",
            "64",
            "--output-snapshot",
        ],
        &ifaces,
    );
    let tracer = Tracer::start(&args).unwrap();
    ping(&a, "10.89.0.2", "3");
    let out = tracer.stop(libc::SIGINT).unwrap();
    assert!(out.status.success(), "{out:?}");
    let hops: Vec<Value> = out
        .hops()
        .into_iter()
        .filter(|h| h["hook"] != "drop")
        .collect();
    let (a, sw, b) = (a.as_str(), sw.as_str(), b.as_str());
    let request = [
        (a, "eth0", "egress"),
        (sw, "pa", "ingress"),
        (sw, "pb", "egress"),
        (b, "eth0", "ingress"),
    ];
    let reply = [
        (b, "eth0", "egress"),
        (sw, "pb", "ingress"),
        (sw, "pa", "egress"),
        (a, "eth0", "ingress"),
    ];
    let packets = by_fingerprint(&hops);
    // 3 echo requests and 3 replies: six packets, each seen exactly at its four hops in order.
    assert_eq!(packets.len(), 6, "{hops:#?}");
    for (fp, group) in &packets {
        let kind = group[0]["icmp"]["type"].as_u64().unwrap();
        let seq = &group[0]["icmp"]["seq"];
        let places: Vec<_> = group.iter().map(|h| place(h)).collect();
        let want = if kind == 8 { &request } else { &reply };
        let want: Vec<_> = want
            .iter()
            .map(|(n, i, h)| (n.to_string(), i.to_string(), h.to_string()))
            .collect();
        assert_eq!(places, want, "packet {fp} (icmp type {kind} seq {seq})");
        assert!(
            group
                .iter()
                .all(|h| &h["icmp"]["seq"] == seq && h["icmp"]["type"] == kind),
            "{fp}: {group:#?}"
        );
        // The snapshot is the frame from its Ethernet header: destination MAC first.
        let dst = group[0]["dst_mac"].as_str().unwrap().replace(':', "");
        let snap = group[0]["snapshot"].as_str().unwrap();
        assert_eq!(snap.len(), 128, "64 bytes in hex");
        assert!(snap.starts_with(&dst), "{snap} vs {dst}");
    }
    assert_hops_are_where_they_say(&hops);
    assert_eq!(out.summary()["lost_events"], 0);
    assert_nothing_left(&lab);
}

#[test]
fn vxlan_inner_packet_is_matched_on_the_underlay() {
    let _serial = serial();
    scenarios::tunnel_inner_packet_is_followed(scenarios::Tunnel::Vxlan);
}

#[test]
fn host_proto_and_port_filters_select_in_the_kernel() {
    let _serial = serial();
    let mut lab = Lab::new("filt");
    let (a, b) = veth_pair(&mut lab);
    let mac_a = lab.mac_of(&a, "va").unwrap();
    let ifaces = [format!("{a}:va"), format!("{b}:vb")];
    // Every criterion at once, with the tracepoint drop probe: the heaviest program the
    // verifier must accept.
    let args = trace_args(
        &[
            "--filter-mac",
            &mac_a,
            "--filter-host",
            "10.88.0.2",
            "--filter-proto",
            "udp",
            "--filter-port",
            "5002",
            "--drop-hook",
            "tracepoint",
        ],
        &ifaces,
    );
    let tracer = Tracer::start(&args).unwrap();
    let send = |port: &str| {
        in_netns(
            &a,
            "bash",
            &["-c", &format!("echo probe > /dev/udp/10.88.0.2/{port}")],
        )
        .unwrap();
    };
    for port in ["5001", "5002", "5003"] {
        send(port);
    }
    ping(&a, "10.88.0.2", "1");
    let out = tracer.stop(libc::SIGINT).unwrap();
    assert!(out.status.success(), "{out:?}");
    let hops = out.hops();
    assert!(!hops.is_empty(), "the port-5002 datagram must be seen");
    for h in &hops {
        assert_eq!(h["ip"]["proto"], 17, "{h}");
        assert!(h["ip"]["sport"] == 5002 || h["ip"]["dport"] == 5002, "{h}");
    }
    // Out at va, in at vb, and (no listener) dropped in b with a port unreachable back.
    assert!(hops
        .iter()
        .any(|h| place(h) == (a.clone(), "va".into(), "egress".into())));
    assert!(hops
        .iter()
        .any(|h| place(h) == (b.clone(), "vb".into(), "ingress".into())));
    assert_nothing_left(&lab);
}

/// Bad input: exit code 2, exactly one line on stderr, nothing attached.
fn assert_clean_error(args: &[&str], expected: &str, lab: &Lab) {
    let out = tracer::run(args).unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let lines: Vec<_> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(
        lines.len() == 1 || out.stderr.starts_with("error:"),
        "more than one line: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(expected),
        "expected {expected:?} in {:?}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_nothing_left(lab);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let _serial = serial();
    let mut lab = Lab::new("err");
    let (a, _b) = veth_pair(&mut lab);
    let va = format!("{a}:va");
    let missing = format!("{a}:nosuchdev");
    assert_clean_error(
        &["trace", "-i", &va, "-i", &missing],
        "no interface 'nosuchdev'",
        &lab,
    );
    assert_clean_error(
        &["trace", "-i", "no-such-netns-pt:eth0"],
        "unknown network namespace",
        &lab,
    );
    assert_clean_error(
        &["trace", "-i", &va, "--filter-mac", "fa:16:3e:zz:00:01"],
        "invalid MAC address",
        &lab,
    );
    assert_clean_error(
        &["trace", "-i", &va, "--btf", "/nonexistent/vmlinux"],
        "kernel has no BTF",
        &lab,
    );
    assert_clean_error(
        &["trace", "-i", &format!("{a}:averyveryverylongname")],
        "longer than 15",
        &lab,
    );
}

#[test]
fn bad_input_to_the_dhcp_journey_is_one_line_and_exit_2() {
    let _serial = serial();
    let mut lab = Lab::new("errj");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    assert_clean_error(
        &["--dhcp", "fa:16:3e:zz:c7:87"],
        "invalid MAC address",
        &lab,
    );
    assert_clean_error(&["--dhcp", "fa16.3efe"], "invalid MAC address", &lab);
    // One digit off the VM's MAC: not on this host, and the closest one is named.
    let mut other = topo.vm_mac.clone();
    let last = other.pop().unwrap();
    other.push(if last == '0' { '1' } else { '0' });
    assert_clean_error(&["--dhcp", &other], "is not on this host", &lab);
    assert_clean_error(&["--dhcp", &other], &topo.vm_mac, &lab);
    assert_clean_error(
        &["--dhcp", &topo.vm_mac, "--ovsdb", "/nonexistent/db.sock"],
        "OVSDB socket /nonexistent/db.sock does not exist",
        &lab,
    );
    // The same MAC in the other notations is the same VM: the error is about OVSDB, not the MAC.
    let dashed = topo.vm_mac.to_uppercase().replace(':', "-");
    assert_clean_error(
        &["--dhcp", &dashed, "--ovsdb", "/nonexistent/db.sock"],
        "OVSDB socket",
        &lab,
    );
    assert_clean_error(
        &["--dhcp", &topo.vm_mac, "--timeout", "soon"],
        "invalid value 'soon'",
        &lab,
    );
    // Replays of what is not a recording.
    assert_clean_error(
        &["replay", "/nonexistent/journey.json"],
        "cannot read /nonexistent/journey.json",
        &lab,
    );
    let report = lab.workdir().unwrap().join("report.json");
    std::fs::write(&report, r#"{"type": "journey", "verdict": "delivered"}"#).unwrap();
    assert_clean_error(
        &["replay", report.to_str().unwrap()],
        "is not a pathtrace recording",
        &lab,
    );
    // Without the lab's dnsmasq there is no DHCP server to go to (or none reachable).
    let pids = run("ip", &["netns", "pids", &topo.srv]).unwrap();
    for pid in pids.split_whitespace() {
        run("kill", &[pid]).unwrap();
    }
    assert_clean_error(&["--dhcp", &topo.vm_mac], "no path from", &lab);
}

#[test]
fn unprivileged_user_gets_one_line_and_exit_2() {
    let _serial = serial();
    let lab = Lab::new("unpriv");
    let bin = tracer::pathtrace_bin();
    let out = run_output(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        bin.to_str().unwrap(),
        "trace",
        "-i",
        "lo",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("insufficient privileges: missing CAP_BPF"),
        "{stderr}"
    );
    let out = run_output(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        bin.to_str().unwrap(),
        "--dhcp",
        "fa:16:3e:fe:c7:87",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("insufficient privileges"), "{stderr}");
    assert_nothing_left(&lab);
}

fn run_output(argv: &[&str]) -> std::process::Output {
    std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap()
}

#[test]
fn interface_in_another_namespace_with_the_same_ifindex_is_told_apart() {
    // ifindexes are per namespace: two fresh namespaces can both have ifindex 2.
    let _serial = serial();
    let mut lab = Lab::new("idx");
    let (a, b) = veth_pair(&mut lab);
    let mac_a = lab.mac_of(&a, "va").unwrap();
    let ifaces = [format!("{a}:va"), format!("{b}:vb")];
    // Ends by itself after 4 events (request and reply, each leaving one side and entering the
    // other): the normal exit path must clean up like the signal paths do.
    let args = trace_args(&["--filter-mac", &mac_a, "--count", "4"], &ifaces);
    let tracer = Tracer::start(&args).unwrap();
    ping(&a, "10.88.0.2", "2");
    let out = tracer.wait().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.summary()["events"], 4);
    assert_nothing_left(&lab);
    let hops = out.hops();
    let ino = |ns: &str| {
        hops.iter()
            .find(|h| h["netns"] == ns)
            .unwrap_or_else(|| panic!("no hop in {ns}: {hops:#?}"))["netns_ino"]
            .clone()
    };
    assert_ne!(ino(&a), ino(&b));
    // ... and the point: both links have the same ifindex, told apart by the namespace.
    let ifindex = |ns: &str, dev: &str| {
        hops.iter()
            .find(|h| h["netns"] == ns && h["ifname"] == dev)
            .unwrap_or_else(|| panic!("no hop at {ns}:{dev}: {hops:#?}"))["ifindex"]
            .clone()
    };
    assert_eq!(ifindex(&a, "va"), ifindex(&b, "vb"), "{hops:#?}");
}

#[test]
fn more_namespaces_sharing_an_ifindex_than_program_copies_are_told_apart() {
    // Six namespaces whose veth is ifindex 2: four copies of the TC programs know their
    // namespace from the ifindex, and the last copy, shared by three, reads it from the device.
    const PAIRS: usize = 3;
    let _serial = serial();
    let mut lab = Lab::new("idxn");
    let mut ifaces = Vec::new();
    let mut pairs = Vec::new();
    for i in 0..PAIRS {
        let a = lab.netns(&format!("a{i}")).unwrap();
        let b = lab.netns(&format!("b{i}")).unwrap();
        lab.veth((&a, "va"), (&b, "vb")).unwrap();
        lab.addr(&a, "va", "10.88.0.1/24").unwrap();
        lab.addr(&b, "vb", "10.88.0.2/24").unwrap();
        ifaces.extend([format!("{a}:va"), format!("{b}:vb")]);
        pairs.push((a, b));
    }
    // A request and its reply, each leaving one side and entering the other, per pair.
    let events = (4 * PAIRS).to_string();
    let args = trace_args(
        &["--filter-proto", "icmp", "--no-drops", "--count", &events],
        &ifaces,
    );
    let tracer = Tracer::start(&args).unwrap();
    for (a, _) in &pairs {
        ping(a, "10.88.0.2", "1");
    }
    let out = tracer.wait().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_nothing_left(&lab);
    let hops = out.hops();
    for (a, b) in &pairs {
        for (ns, dev) in [(a, "va"), (b, "vb")] {
            let here: Vec<&Value> = hops.iter().filter(|h| h["netns"] == ns.as_str()).collect();
            let mut seen: Vec<(&str, &str)> = here
                .iter()
                .map(|h| (h["ifname"].as_str().unwrap(), h["hook"].as_str().unwrap()))
                .collect();
            seen.sort();
            assert_eq!(seen, [(dev, "egress"), (dev, "ingress")], "{hops:#?}");
            assert!(here.iter().all(|h| h["ifindex"] == here[0]["ifindex"]));
        }
    }
    let mut inos: Vec<String> = hops.iter().map(|h| h["netns_ino"].to_string()).collect();
    inos.sort();
    inos.dedup();
    assert_eq!(inos.len(), 2 * PAIRS, "{hops:#?}");
    let ifindexes: std::collections::BTreeSet<String> =
        hops.iter().map(|h| h["ifindex"].to_string()).collect();
    assert_eq!(
        ifindexes.len(),
        1,
        "the point: one ifindex in every namespace"
    );
}
