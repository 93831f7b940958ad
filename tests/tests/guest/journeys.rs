//! Journeys: `pathtrace --dhcp MAC` on seed 004 with real OVS, dnsmasq and dhclient, healthy and with
//! one fault each: pathtrace must name the hop where the exchange stops and why. Runs in the VM
//! (`--features guest`), where the kernel has the OVS datapath.

use pathtrace_testbed::{
    cmd::{in_netns, ip, run},
    dhcp::{acquire_lease, DhcpClient},
    journey_run::{packet, reason, Journey},
    kernel_state::assert_nothing_left,
    topologies::{BridgeLink, LinuxComputeNode, Seed004},
    Lab,
};
use serde_json::Value;

/// Starts `pathtrace --dhcp` for the seed's VM, attached and waiting.
fn start_journey(lab: &mut Lab, name: &str, topo: &Seed004, timeout: &str) -> Journey {
    let libvirt = topo.libvirt_dir.to_str().unwrap();
    let neutron = topo.neutron_dhcp_dir.to_str().unwrap();
    Journey::start(
        lab,
        name,
        &[
            "--dhcp",
            topo.vm_mac,
            "--libvirt-xml",
            libvirt,
            "--neutron-dhcp-dir",
            neutron,
            "--timeout",
            timeout,
        ],
    )
    .unwrap()
}

/// [`start_journey`], dhclient in the VM (giving up after `client_secs`), then the report; the
/// lease and the verdict must agree.
fn journey(
    lab: &mut Lab,
    name: &str,
    topo: &Seed004,
    client_secs: u32,
    timeout: &str,
) -> (i32, Value) {
    start_journey(lab, name, topo, timeout).finish_after_dhclient(lab, &topo.vm, client_secs)
}

#[test]
fn healthy_path_is_delivered_with_all_four_messages_and_the_reserved_ip() {
    let mut lab = Lab::new("jok");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).unwrap();
    let (code, r) = journey(&mut lab, "seed004-healthy", &topo, 60, "60");
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "delivered", "{r:#}");
    for m in ["DISCOVER", "OFFER", "REQUEST", "ACK"] {
        assert_eq!(r["dhcp"][m]["seen"], true, "{m}: {r:#}");
        assert_eq!(r["dhcp"][m]["delivered"], true, "{m}: {r:#}");
    }
    assert_eq!(r["dhcp"]["offered_ip"], topo.reserved_ip, "{r:#}");
    assert_eq!(r["dhcp"]["reserved_ip"], topo.reserved_ip);
    assert_eq!(r["dhcp"]["matches_host_entry"], true);
    assert_eq!(r["dhcp"]["server"], "10.10.10.3");
    assert_eq!(r["lost_events"], 0);
    // The DISCOVER's hops: on the tap first, inferred across the patch ports, tagged 1000 on
    // eth2, untagged into the DHCP namespace.
    let discover = packet(&r, "DISCOVER");
    let hops = discover["hops"].as_array().unwrap();
    assert_eq!(hops[0]["name"], topo.tap.as_str(), "{discover:#}");
    assert_eq!(hops[0]["hook"], "ingress");
    let patch: Vec<_> = hops.iter().filter(|h| h["inferred"] == true).collect();
    assert!(
        patch.iter().any(|h| h["name"] == "int-br-eth2")
            && patch.iter().any(|h| h["name"] == "phy-br-eth2"),
        "{discover:#}"
    );
    let eth2 = hops
        .iter()
        .find(|h| h["name"] == "eth2" && h["hook"] == "egress")
        .unwrap();
    assert_eq!(eth2["vlan"], 1000, "{eth2}");
    let push = hops
        .iter()
        .find(|h| {
            h["detail"]
                .as_str()
                .is_some_and(|d| d.contains("push_vlan vid 1000"))
        })
        .unwrap_or_else(|| panic!("{discover:#}"));
    assert_eq!(push["bridge"], "br-eth2", "{push}");
    assert!(
        push["detail"]
            .as_str()
            .unwrap()
            .contains("mod_vlan_vid:1000"),
        "{push}"
    );
    let last = hops.iter().rfind(|h| h["path_hop"].is_number()).unwrap();
    assert_eq!(last["name"], "tapdhcp");
    assert!(last["vlan"].is_null());
    assert_nothing_left(&lab);
}

#[test]
fn openflow_drop_flow_on_br_eth2_is_named() {
    let mut lab = Lab::new("jdrop");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).unwrap();
    let phy = topo.ovs.ofport("phy-br-eth2").unwrap();
    run(
        "ovs-ofctl",
        &[
            "add-flow",
            "br-eth2",
            &format!("priority=10,in_port={phy},udp,tp_dst=67,actions=drop"),
        ],
    )
    .unwrap();
    let (code, r) = journey(&mut lab, "seed004-openflow-drop", &topo, 8, "12");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["stopped_at"]["ifname"], "br-eth2", "{r:#}");
    assert!(reason(&r).contains("tp_dst=67"), "{r:#}");
    assert!(reason(&r).contains("OpenFlow"), "{r:#}");
    assert_eq!(r["dhcp"]["DISCOVER"]["seen"], true);
    assert_eq!(r["dhcp"]["OFFER"]["seen"], false);
}

/// Kills every process of the seed's DHCP namespace (its dnsmasq).
fn stop_dnsmasq(topo: &Seed004) {
    let pids = run("ip", &["netns", "pids", &topo.qdhcp]).unwrap();
    assert!(!pids.trim().is_empty(), "no dnsmasq in {}", topo.qdhcp);
    for pid in pids.split_whitespace() {
        run("kill", &[pid]).unwrap();
    }
}

/// The DISCOVER reaches the DHCP namespace's port and nothing answers: stopped there, the
/// reason names the server side.
fn assert_server_side_silent(r: &Value, topo: &Seed004) {
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["dhcp"]["DISCOVER"]["delivered"], true, "{r:#}");
    assert_eq!(r["dhcp"]["OFFER"]["seen"], false);
    assert_eq!(r["stopped_at"]["ifname"], "tapdhcp", "{r:#}");
    assert_eq!(r["stopped_at"]["netns"], topo.qdhcp.as_str(), "{r:#}");
    assert!(
        reason(r).contains("no reply from the DHCP server")
            && reason(r).contains(&format!("no DHCP server runs in namespace {}", topo.qdhcp)),
        "{r:#}"
    );
}

#[test]
fn dnsmasq_not_running_in_the_qdhcp_namespace_names_the_server_side() {
    let mut lab = Lab::new("jnosrv");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).unwrap();
    // Down before pathtrace starts: the path must still end in the qdhcp namespace, from the
    // Neutron agent's state (interface and host files).
    stop_dnsmasq(&topo);
    let (code, r) = journey(&mut lab, "seed004-dnsmasq-not-running", &topo, 8, "12");
    assert_eq!(code, 1, "{r:#}");
    assert_server_side_silent(&r, &topo);
    assert!(reason(&r).contains("none ran there"), "{r:#}");
    assert_eq!(r["expected_next"]["name"], "dnsmasq (not running)", "{r:#}");
    // The reserved address still comes from the agent's host file.
    assert_eq!(r["dhcp"]["reserved_ip"], topo.reserved_ip, "{r:#}");
    assert_nothing_left(&lab);
}

#[test]
fn dnsmasq_gone_names_the_server_side() {
    let mut lab = Lab::new("jsrv");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).unwrap();
    let journey = start_journey(&mut lab, "seed004-dnsmasq-killed", &topo, "12");
    // The server dies after pathtrace found it: the DISCOVER still reaches its port.
    stop_dnsmasq(&topo);
    let (code, r) = journey.finish_after_dhclient(&mut lab, &topo.vm, 8);
    assert_eq!(code, 1, "{r:#}");
    assert_server_side_silent(&r, &topo);
    assert!(reason(&r).contains("is gone"), "{r:#}");
}

#[test]
fn qvo_down_is_a_link_down_after_qvb() {
    let mut lab = Lab::new("jdown");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).unwrap();
    run("ip", &["link", "set", &topo.qvo, "down"]).unwrap();
    let (code, r) = journey(&mut lab, "seed004-qvo-down", &topo, 8, "12");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert!(reason(&r).contains("link down"), "{r:#}");
    assert!(reason(&r).contains(&topo.qvo), "{r:#}");
    let at = r["stopped_at"]["ifname"].as_str().unwrap();
    assert!(
        at == topo.qvb || at == topo.qbr || at == topo.tap,
        "stopped before qvo: {r:#}"
    );
}

#[test]
fn missing_vlan_translation_is_a_tag_mismatch() {
    let mut lab = Lab::new("jvlan");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).unwrap();
    // br-eth2 forwards tag 1 unchanged: the server's port only carries 1000.
    topo.ovs
        .replace_flows("br-eth2", &["priority=1,actions=NORMAL".into()])
        .unwrap();
    let (code, r) = journey(&mut lab, "seed004-no-vlan-translation", &topo, 8, "12");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert!(reason(&r).contains("VLAN tag mismatch"), "{r:#}");
    assert!(reason(&r).contains("tagged VLAN 1 "), "{r:#}");
    assert!(reason(&r).contains("1000"), "{r:#}");
}

#[test]
fn nftables_drop_on_the_qbr_bridge_is_named_by_kfree_skb() {
    let mut lab = Lab::new("jnft");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).unwrap();
    // A security-group style rule on the bridge: the VM's DHCP requests do not pass qbr.
    let rules = format!(
        "add table bridge pathtrace_sg; \
         add chain bridge pathtrace_sg sg {{ type filter hook forward priority 0; }}; \
         add rule bridge pathtrace_sg sg iifname \"{}\" udp dport 67 drop",
        topo.tap
    );
    // Removed by the lab, also if this test fails: it would break the tests after it.
    lab.nft_table("bridge", "pathtrace_sg", &rules).unwrap();
    let (code, r) = journey(&mut lab, "seed004-nft-drop-on-qbr", &topo, 8, "12");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert!(reason(&r).contains("NETFILTER_DROP"), "{r:#}");
    let at = r["stopped_at"]["ifname"].as_str().unwrap();
    assert!(at == topo.tap || at == topo.qbr, "{r:#}");
}

#[test]
fn oversized_frames_stop_at_the_bridge_with_the_mtu_reason() {
    let mut lab = Lab::new("jmtu");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).unwrap();
    // The VM gets its lease first, then the qbr port towards OVS shrinks to 1400.
    let lease = acquire_lease(&mut lab, &topo.vm, "eth0", DhcpClient::Dhclient).unwrap();
    assert_eq!(lease, topo.reserved_ip);
    run("ip", &["link", "set", &topo.qvb, "mtu", "1400"]).unwrap();
    let libvirt = topo.libvirt_dir.to_str().unwrap();
    let pings = Journey::start(
        &mut lab,
        "seed004-mtu-1400-on-qvb",
        &[
            "trace",
            "--mac",
            topo.vm_mac,
            "--icmp",
            "--dst",
            "10.10.10.3",
            "--libvirt-xml",
            libvirt,
            "--timeout",
            "10",
            "--count",
            "1",
        ],
    )
    .unwrap();
    // A 1500-byte IP packet: 1514-byte frames.
    let _ = run(
        "ip",
        &[
            "netns",
            "exec",
            &topo.vm,
            "ping",
            "-c",
            "2",
            "-W",
            "1",
            "-M",
            "do",
            "-s",
            "1472",
            "10.10.10.3",
        ],
    );
    let (code, r) = pings.finish();
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert!(reason(&r).contains("MTU"), "{r:#}");
    assert!(reason(&r).contains("1400"), "{r:#}");
    let at = r["stopped_at"]["ifname"].as_str().unwrap();
    assert!(at == topo.tap || at == topo.qbr, "{r:#}");
}

/// A VLAN-filtering Linux bridge on the path (`vlan_filtering 1`, as bridge CNI and nmstate
/// configure; the CI host's kernel has no VLAN filtering, the VM's has): qbr puts the VM's
/// frames in VLAN 10 at tapvm, and qvb carries only VLAN 20. The DISCOVER stops at qbr, and
/// the verdict names the bridge, the port and the VLAN (the kernel itself says only
/// NOT_SPECIFIED). With qvb in VLAN 10 too, the same node delivers.
#[test]
fn a_vlan_filtering_bridge_that_does_not_carry_the_vlan_is_named() {
    let mut lab = Lab::new("jvf");
    let topo = LinuxComputeNode::build(&mut lab).unwrap();
    let bridge = |args: &[&str]| in_netns(&topo.hv, "bridge", args).unwrap();
    ip(
        &topo.hv,
        &[
            "link",
            "set",
            "qbr",
            "type",
            "bridge",
            "vlan_filtering",
            "1",
        ],
    )
    .unwrap();
    for (port, vid) in [("tapvm", "10"), ("qvb", "20")] {
        bridge(&["vlan", "add", "dev", port, "vid", vid, "pvid", "untagged"]);
        bridge(&["vlan", "del", "dev", port, "vid", "1"]);
    }
    let args = ["--dhcp", topo.vm_mac.as_str(), "--timeout", "10"];
    let journey = Journey::start(&mut lab, "linux-vlan-filtered", &args).unwrap();
    let (code, r) = journey.finish_after_dhclient(&mut lab, &topo.vm, 6);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["cause"]["kind"], "bridge_vlan_filtered", "{r:#}");
    assert_eq!(r["cause"]["bridge"], "qbr", "{r:#}");
    assert_eq!(r["cause"]["port"], "qvb", "{r:#}");
    assert_eq!(r["cause"]["vlan"], 10, "{r:#}");
    assert_eq!(r["cause"]["leaving"], true, "{r:#}");
    assert_eq!(r["stopped_at"]["ifname"], "qbr", "{r:#}");
    assert_nothing_left(&lab);

    bridge(&["vlan", "add", "dev", "qvb", "vid", "10", "pvid", "untagged"]);
    let args = ["--dhcp", topo.vm_mac.as_str(), "--timeout", "30"];
    let journey = Journey::start(&mut lab, "linux-vlan-filtering-healthy", &args).unwrap();
    let (code, r) = journey.finish_after_dhclient(&mut lab, &topo.vm, 25);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "delivered", "{r:#}");
    assert_nothing_left(&lab);
}
