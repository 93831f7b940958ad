//! Journeys on the host kernel: `pathtrace --dhcp MAC` and `trace --mac MAC --icmp` on the
//! Linux half of a compute node (veth, tap, two Linux bridges, dnsmasq, dhclient), healthy and
//! with one fault each. The verdict logic is the one the VM scenarios exercise with OVS; here it
//! runs on Linux-bridge-only paths, where every hop is a netdev.

use pathtrace_testbed::{
    cmd::{in_netns, ip},
    faults,
    journey_run::{packet, reason, Journey},
    kernel_state::assert_nothing_left,
    serial,
    topologies::{LibvirtDhcp, LibvirtNetwork, LinuxComputeNode, RoutedNetwork},
    Lab,
};
use serde_json::Value;

/// `pathtrace --dhcp` for the node's VM while dhclient runs in it (for `client_secs`); the lease
/// and the verdict must agree.
fn dhcp_journey(
    lab: &mut Lab,
    name: &str,
    topo: &LinuxComputeNode,
    client_secs: u32,
) -> (i32, Value) {
    dhcp_journey_of(lab, name, (&topo.vm, &topo.vm_mac), client_secs)
}

/// [`dhcp_journey`] for the VM namespace and MAC `vm`.
fn dhcp_journey_of(lab: &mut Lab, name: &str, vm: (&str, &str), client_secs: u32) -> (i32, Value) {
    let timeout = (client_secs + 4).to_string();
    let journey = Journey::start(lab, name, &["--dhcp", vm.1, "--timeout", &timeout]).unwrap();
    journey.finish_after_dhclient(lab, vm.0, client_secs)
}

#[test]
fn healthy_linux_bridge_path_is_delivered_with_the_reserved_ip() {
    let _serial = serial();
    let mut lab = Lab::new("hjok");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    let started = std::time::Instant::now();
    let (code, r) = dhcp_journey(&mut lab, "host-healthy", &topo, 30);
    // The client is a namespace's own link (no tap): the ACK arrives there as ingress, and the
    // run ends with it, not at its 34 s timeout.
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(20), "ran {took:?}");
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "delivered", "{r:#}");
    for m in ["DISCOVER", "OFFER", "REQUEST", "ACK"] {
        assert_eq!(r["dhcp"][m]["delivered"], true, "{m}: {r:#}");
    }
    assert_eq!(r["dhcp"]["offered_ip"], topo.reserved_ip, "{r:#}");
    assert_eq!(r["dhcp"]["matches_host_entry"], true, "{r:#}");
    assert_eq!(r["lost_events"], 0);
    // The DISCOVER from the VM's NIC to the server's bridge, in order, each hop in its netns.
    let discover = packet(&r, "DISCOVER");
    let seen: Vec<(&str, &str, &str)> = discover["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["inferred"] != true)
        .map(|h| {
            (
                h["netns"].as_str().unwrap_or_default(),
                h["name"].as_str().unwrap_or_default(),
                h["hook"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let want = [
        (topo.vm.as_str(), "eth0", "egress"),
        (topo.hv.as_str(), "tapvm", "ingress"),
        (topo.hv.as_str(), "qvb", "egress"),
        (topo.srv.as_str(), "qvo", "ingress"),
        (topo.srv.as_str(), "brs", "ingress"),
    ];
    let mut it = seen.iter();
    for w in &want {
        assert!(
            it.any(|s| s == w),
            "{w:?} missing or out of order in {seen:#?}"
        );
    }
    assert_nothing_left(&lab);
}

#[test]
fn nftables_drop_on_the_vm_bridge_is_named_by_kfree_skb() {
    let _serial = serial();
    let mut lab = Lab::new("hjnft");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    // Security-group style, on the VM's bridge: its DHCP requests are not forwarded.
    in_netns(
        &topo.hv,
        "nft",
        &["add table bridge pt_sg; add chain bridge pt_sg sg_forward { type filter hook forward priority 0; }; add rule bridge pt_sg sg_forward iifname \"tapvm\" udp dport 67 drop"],
    )
    .unwrap();
    let (code, r) = dhcp_journey(&mut lab, "host-nft-drop-on-qbr", &topo, 6);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert!(reason(&r).contains("NETFILTER_DROP"), "{r:#}");
    assert_eq!(r["stopped_at"]["netns"], topo.hv.as_str(), "{r:#}");
    let at = r["stopped_at"]["ifname"].as_str().unwrap();
    assert!(at == "tapvm" || at == "qbr", "{r:#}");
    assert_eq!(r["dhcp"]["OFFER"]["seen"], false);
    assert_nothing_left(&lab);
}

#[test]
fn peer_down_is_a_link_down_named_after_the_peer() {
    let _serial = serial();
    let mut lab = Lab::new("hjdown");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    ip(&topo.srv, &["link", "set", "qvo", "down"]).unwrap();
    let (code, r) = dhcp_journey(&mut lab, "host-qvo-down", &topo, 6);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert!(reason(&r).contains("link down"), "{r:#}");
    assert!(reason(&r).contains("qvo"), "{r:#}");
    let at = r["stopped_at"]["ifname"].as_str().unwrap();
    assert!(
        ["tapvm", "qbr", "qvb"].contains(&at),
        "stopped before qvo: {r:#}"
    );
    assert_nothing_left(&lab);
}

#[test]
fn server_killed_after_start_names_the_server_side() {
    let _serial = serial();
    let mut lab = Lab::new("hjsrv");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    let journey = Journey::start(
        &mut lab,
        "host-dnsmasq-killed",
        &["--dhcp", &topo.vm_mac, "--timeout", "10"],
    )
    .unwrap();
    let pids = pathtrace_testbed::cmd::run("ip", &["netns", "pids", &topo.srv]).unwrap();
    for pid in pids.split_whitespace() {
        pathtrace_testbed::cmd::run("kill", &[pid]).unwrap();
    }
    let (code, r) = journey.finish_after_dhclient(&mut lab, &topo.vm, 6);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["dhcp"]["DISCOVER"]["delivered"], true, "{r:#}");
    // dnsmasq listens on the bridge's own interface: that is where the DISCOVER arrived.
    assert_eq!(r["stopped_at"]["ifname"], "brs", "{r:#}");
    assert_eq!(r["stopped_at"]["netns"], topo.srv.as_str(), "{r:#}");
    assert!(
        reason(&r).contains("no reply from the DHCP server"),
        "{r:#}"
    );
    assert!(reason(&r).contains("is gone"), "{r:#}");
    assert_nothing_left(&lab);
}

#[test]
fn jumbo_frames_stop_at_the_bridge_with_the_mtu_reason() {
    let _serial = serial();
    let mut lab = Lab::new("hjmtu");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    // The VM side runs MTU 9000, qvb 1500: the bridge cannot forward an 8000-byte frame.
    lab.addr(&topo.vm, "eth0", "10.78.0.50/24").unwrap();
    let journey = Journey::start(
        &mut lab,
        "host-jumbo-into-1500",
        &[
            "trace",
            "--mac",
            &topo.vm_mac,
            "--icmp",
            "--dst",
            "10.78.0.1",
            "--count",
            "1",
            "--timeout",
            "8",
        ],
    )
    .unwrap();
    let _ = in_netns(
        &topo.vm,
        "ping",
        &["-c", "2", "-W", "1", "-M", "do", "-s", "8000", "10.78.0.1"],
    );
    let (code, r) = journey.finish();
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert!(reason(&r).contains("MTU"), "{r:#}");
    assert!(reason(&r).contains("1500"), "{r:#}");
    assert_eq!(r["stopped_at"]["netns"], topo.hv.as_str(), "{r:#}");
    let at = r["stopped_at"]["ifname"].as_str().unwrap();
    assert!(at == "tapvm" || at == "qbr", "{r:#}");
    assert_nothing_left(&lab);
}

/// A hop deleted while the journey runs (here the qvb/qvo veth pair, as when Nova unplugs a
/// port): the trace goes on, the report lists both ends as vanished and when, and the verdict
/// says the packet stopped where the deleted link was, because it was deleted.
#[test]
fn a_hop_deleted_mid_journey_is_named_with_when() {
    let _serial = serial();
    let mut lab = Lab::new("hjgone");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    let journey = Journey::start(
        &mut lab,
        "host-qvo-deleted",
        &["--dhcp", &topo.vm_mac, "--timeout", "10"],
    )
    .unwrap();
    ip(&topo.srv, &["link", "del", "qvo"]).unwrap();
    let (code, r) = journey.finish_after_dhclient(&mut lab, &topo.vm, 6);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    let vanished: Vec<(&str, &str, &str)> = r["vanished"]
        .as_array()
        .unwrap_or_else(|| panic!("no vanished hops: {r:#}"))
        .iter()
        .map(|v| {
            assert!(v["after_ms"].as_u64().is_some(), "{v}");
            (
                v["netns"].as_str().unwrap(),
                v["ifname"].as_str().unwrap(),
                v["gone"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        vanished.contains(&(topo.srv.as_str(), "qvo", "interface")),
        "{vanished:?}"
    );
    assert!(
        vanished.contains(&(topo.hv.as_str(), "qvb", "interface")),
        "{vanished:?}"
    );
    assert!(reason(&r).contains("qvb no longer exists"), "{r:#}");
    assert!(reason(&r).contains("deleted"), "{r:#}");
    assert_eq!(r["cause"]["kind"], "link_gone", "{r:#}");
    assert_eq!(r["cause"]["vanished"]["ifname"], "qvb", "{r:#}");
    assert_eq!(r["stopped_at"]["netns"], topo.hv.as_str(), "{r:#}");
    assert_nothing_left(&lab);
}

/// A libvirt network, its dnsmasq configured only through its conf file (the host file named
/// inside it): the path ends at that dnsmasq on virbr0 and the lease is the host entry's.
#[test]
fn a_libvirt_network_is_delivered_from_its_conf_file() {
    let _serial = serial();
    let mut lab = Lab::new("lvok");
    let net = LibvirtNetwork::build(&mut lab, LibvirtDhcp::Healthy).unwrap();
    let (code, r) = dhcp_journey_of(&mut lab, "host-libvirt-healthy", (&net.vm, &net.vm_mac), 20);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "delivered", "{r:#}");
    assert_eq!(r["dhcp"]["offered_ip"], LibvirtNetwork::RESERVED, "{r:#}");
    assert_eq!(r["dhcp"]["matches_host_entry"], true, "{r:#}");
    assert_nothing_left(&lab);
}

/// The host file tells dnsmasq to ignore the VM: the DISCOVER reaches it and the verdict says
/// why it stays silent, with the file and line of the entry.
#[test]
fn a_host_entry_that_ignores_the_vm_is_named_with_its_file_and_line() {
    let _serial = serial();
    let mut lab = Lab::new("lvign");
    let net = LibvirtNetwork::build(&mut lab, LibvirtDhcp::IgnoresVm).unwrap();
    let (code, r) = dhcp_journey_of(&mut lab, "host-libvirt-ignore", (&net.vm, &net.vm_mac), 6);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["dhcp"]["DISCOVER"]["delivered"], true, "{r:#}");
    assert_eq!(r["cause"]["kind"], "server_silent", "{r:#}");
    assert_eq!(r["cause"]["refusal"]["kind"], "ignores_client", "{r:#}");
    let origin = r["cause"]["refusal"]["origin"].as_str().unwrap();
    assert!(origin.ends_with("default.hostsfile:1"), "{origin}");
    assert!(reason(&r).contains("says ignore"), "{r:#}");
    assert_nothing_left(&lab);
}

/// The network's only dhcp-range is in another subnet than virbr0's: dnsmasq answers no one
/// there, even the VM it has a reserved address for, and the verdict says so.
#[test]
fn a_server_without_a_range_in_its_subnet_is_named() {
    let _serial = serial();
    let mut lab = Lab::new("lvrng");
    let net = LibvirtNetwork::build(&mut lab, LibvirtDhcp::RangeElsewhere).unwrap();
    let (code, r) = dhcp_journey_of(&mut lab, "host-libvirt-no-range", (&net.vm, &net.vm_mac), 6);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["dhcp"]["DISCOVER"]["delivered"], true, "{r:#}");
    assert_eq!(
        r["cause"]["refusal"]["kind"], "no_range_for_subnet",
        "{r:#}"
    );
    assert_eq!(
        r["cause"]["refusal"]["subnets"][0],
        LibvirtNetwork::SUBNET,
        "{r:#}"
    );
    assert!(reason(&r).contains("no dhcp-range"), "{r:#}");
    assert_nothing_left(&lab);
}

/// The network's dnsmasq is not running when pathtrace starts, and nothing else on the host
/// says where a server should be (no Neutron): libvirt's conf file for the network does. The
/// path ends at virbr0 with a server that is not running, and the verdict says so, with the
/// address the VM would have had (before: exit 2, "no dnsmasq runs on this host").
#[test]
fn a_libvirt_network_whose_dnsmasq_is_not_running_is_a_verdict() {
    let _serial = serial();
    let mut lab = Lab::new("lvdown");
    let net = LibvirtNetwork::build(&mut lab, LibvirtDhcp::Healthy).unwrap();
    pathtrace_testbed::cmd::kill_all_in(&net.host).unwrap();
    let journey =
        Journey::start_on_libvirt_network(&mut lab, "host-libvirt-not-running", &net.vm_mac, "10")
            .unwrap();
    let (code, r) = journey.finish_after_dhclient(&mut lab, &net.vm, 6);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["cause"]["kind"], "server_not_running", "{r:#}");
    assert_eq!(r["stopped_at"]["ifname"], "virbr0", "{r:#}");
    assert_eq!(r["dhcp"]["reserved_ip"], LibvirtNetwork::RESERVED, "{r:#}");
    assert_nothing_left(&lab);
}

/// The topology itself is the fault: qvb was taken out of qbr, so no walk joins the VM to its
/// server. Not an error: the path as far as it goes from each side, the DISCOVER traced up to
/// the gap, and a verdict that names both ends of it.
#[test]
fn a_port_out_of_its_bridge_is_a_verdict_not_an_error() {
    let _serial = serial();
    let mut lab = Lab::new("hjgap");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    ip(&topo.hv, &["link", "set", "qvb", "nomaster"]).unwrap();
    let (code, r) = dhcp_journey(&mut lab, "host-qvb-unbridged", &topo, 6);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["stopped_at"]["ifname"], "qbr", "{r:#}");
    assert_eq!(r["stopped_at"]["netns"], topo.hv.as_str(), "{r:#}");
    assert_eq!(r["cause"]["kind"], "predicted_block", "{r:#}");
    assert!(reason(&r).contains("path breaks"), "{r:#}");
    assert!(reason(&r).contains("qvb, which is in no bridge"), "{r:#}");
    // Both halves are on the expected path: the VM's side, then the server's.
    let path: Vec<&str> = r["expected_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    for hop in ["eth0", "tapvm", "qbr", "qvb", "qvo", "brs"] {
        assert!(path.contains(&hop), "{hop} not in {path:?}");
    }
    assert_eq!(r["dhcp"]["DISCOVER"]["seen"], true, "{r:#}");
    assert_nothing_left(&lab);
}

/// One cell per fault class and way of the fault matrix (`cargo xtask eval` runs them all):
/// each must name the right hop and cause.
#[test]
fn the_fault_matrix_sample_is_right_in_every_cell() {
    let _serial = serial();
    let wrong = faults::misses(
        &faults::sample(&faults::linux_compute_node()),
        &[faults::Ending::Timeout],
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// `trace --mac MAC --icmp` without `--dst`: the first packet says where it goes. The VM pings
/// an address behind a router namespace: pathtrace learns the destination at the VM's link,
/// computes the path through the router (delivered up brs, routed out of r0) to r1, the
/// address's owner, and follows the echo requests past the router, where they no longer carry
/// the VM's MAC, and the replies back.
#[test]
fn a_ping_s_destination_is_learned_and_followed_through_a_router() {
    let _serial = serial();
    let mut lab = Lab::new("hjroute");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    let routed = RoutedNetwork::add(&mut lab, &topo).unwrap();
    // Running before pathtrace starts: its first packet is the one that teaches the way.
    let mut ping = std::process::Command::new("ip")
        .args(["netns", "exec", &topo.vm, "ping", "-c", "60", "-i", "0.3"])
        .arg(routed.far_ip)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let journey = Journey::start(
        &mut lab,
        "host-routed-ping",
        &[
            "trace",
            "--mac",
            &topo.vm_mac,
            "--icmp",
            "--count",
            "2",
            "--timeout",
            "20",
        ],
    );
    let finished = journey.map(Journey::finish);
    let _ = ping.kill();
    let _ = ping.wait();
    let (code, r) = finished.unwrap();
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "delivered", "{r:#}");
    assert_eq!(r["destination"]["ip"], routed.far_ip, "{r:#}");
    let path: Vec<&str> = r["expected_path"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        path,
        ["eth0", "tapvm", "qbr", "qvb", "qvo", "brs", "r0", "r1"],
        "{r:#}"
    );
    // Past the router, the request was seen where only its addresses name it.
    let request_hops: Vec<&str> = r["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["way"] == "outbound")
        .flat_map(|p| p["hops"].as_array().unwrap())
        .filter(|h| h["inferred"] == false)
        .filter_map(|h| h["name"].as_str())
        .collect();
    assert!(request_hops.contains(&"r1"), "{r:#}");
    assert!(
        r["packets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["way"] == "inbound"),
        "the replies are followed too: {r:#}"
    );
    assert_nothing_left(&lab);
}

/// The same network, but the router has lost its route to the far network: the address is
/// on this host and nothing leads there. A `--dst` to it is a verdict (the path breaks, and
/// the router's kernel says why: no route), not an error.
#[test]
fn a_destination_out_of_reach_is_a_verdict() {
    let _serial = serial();
    let mut lab = Lab::new("hjnoroute");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    let routed = RoutedNetwork::add(&mut lab, &topo).unwrap();
    // The router forgets the far network: nothing on this host routes it any more.
    ip(&topo.srv, &["route", "del", "10.90.0.0/24"]).unwrap();
    let journey = Journey::start(
        &mut lab,
        "host-unrouted-ping",
        &[
            "trace",
            "--mac",
            &topo.vm_mac,
            "--icmp",
            "--dst",
            routed.far_ip,
            "--count",
            "1",
            "--timeout",
            "6",
        ],
    )
    .unwrap();
    let _ = in_netns(&topo.vm, "ping", &["-c", "3", "-W", "1", routed.far_ip]);
    let (code, r) = journey.finish();
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["stopped_at"]["ifname"], "brs", "{r:#}");
    assert_eq!(r["cause"]["kind"], "kernel_drop", "{r:#}");
    assert_eq!(r["cause"]["reason"], "IP_INNOROUTES", "{r:#}");
    let path = r["expected_path"].as_array().unwrap();
    assert_eq!(
        path.last().unwrap(),
        "r1",
        "the far side, up to the owner: {r:#}"
    );
    assert_nothing_left(&lab);
}
