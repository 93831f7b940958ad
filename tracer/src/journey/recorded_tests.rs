//! Correlation and verdicts on recordings of real runs (`--record`, kept in
//! `fixtures/recordings/`): the Linux-bridge node of the host tests and seed 004 with real OVS
//! in the VM, healthy and with one fault each. Also cut-down copies of the healthy streams, to
//! check that the verdict follows the evidence rather than the scenario.

use super::{
    recordings::{judge, judge_with, load, ALL, BEFORE_TYPED_VERDICT},
    report::{PacketReport, Report},
    verdict::{Cause, Outcome, OvnCause},
};
use crate::event::{DhcpMessage, HookKind};

/// Judges `name` and checks that its verdict is `stopped` with a reason containing every one
/// of `words`.
fn stopped_because(name: &str, words: &[&str]) -> Report {
    let r = judge(name);
    let reason = r.reason.as_deref().unwrap_or_default();
    assert_eq!(r.verdict, Outcome::Stopped, "{name}: {reason}");
    for w in words {
        assert!(reason.contains(w), "{name}: {w:?} not in {reason:?}");
    }
    r
}

/// The first packet whose summary names `message`.
fn packet(r: &Report, message: DhcpMessage) -> &PacketReport {
    r.packets
        .iter()
        .find(|p| p.summary.contains(&message.to_string()))
        .unwrap_or_else(|| panic!("no {message} packet"))
}

#[test]
fn every_event_lands_in_exactly_one_packet_in_path_order() {
    for name in ALL {
        let rec = load(name);
        let r = judge(name);
        let rows: usize = r
            .packets
            .iter()
            .map(|p| p.hops.iter().filter(|h| !h.inferred).count())
            .sum();
        assert_eq!(rows, rec.sightings.len(), "{name}: events vs rows");
        // Each fingerprint's events are the rows of the packets with that fingerprint: no event
        // lands in another packet's journey.
        // (Events before a header rewrite in the datapath count under the packet it becomes.)
        let mut sightings = rec.sightings().unwrap();
        sightings.sort_by_key(|s| s.hop.t_ns);
        super::correlate::follow_rewrites(&mut sightings);
        let mut events: std::collections::BTreeMap<&str, usize> = Default::default();
        for s in &sightings {
            *events.entry(s.hop.fingerprint.as_str()).or_default() += 1;
        }
        let mut placed: std::collections::BTreeMap<&str, usize> = Default::default();
        for p in &r.packets {
            *placed.entry(p.fingerprint.as_str()).or_default() +=
                p.hops.iter().filter(|h| !h.inferred).count();
        }
        assert_eq!(placed, events, "{name}: events per fingerprint");
        let (_, expected) = super::recordings::judged(name);
        for p in &r.packets {
            // Hops placed on the path come in the order a packet going its way meets them.
            let order: Vec<usize> = super::correlate::oriented(&expected, p.way)
                .iter()
                .map(|o| o.hop.index)
                .collect();
            let placed: Vec<usize> = p
                .hops
                .iter()
                .filter_map(|h| h.path_hop)
                .map(|i| order.iter().position(|&o| o == i).unwrap())
                .collect();
            assert!(
                placed.windows(2).all(|w| w[0] <= w[1]),
                "{name}: {} {placed:?}",
                p.summary
            );
        }
        // Judging is a pure function of the recording.
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::to_value(judge(name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn host_healthy_exchange_is_delivered_hop_by_hop() {
    let r = judge("host-healthy");
    assert_eq!(r.verdict, Outcome::Delivered);
    let dhcp = r.dhcp.as_ref().unwrap();
    assert!(dhcp.discover.delivered && dhcp.offer.delivered);
    assert!(dhcp.request.delivered && dhcp.ack.delivered);
    assert_eq!(dhcp.offered_ip, dhcp.reserved_ip);
    assert_eq!(dhcp.matches_host_entry, Some(true));
    let discover = packet(&r, DhcpMessage::Discover);
    let seen: Vec<(&str, HookKind)> = discover
        .hops
        .iter()
        .filter(|h| h.path_hop.is_some() && h.hook != HookKind::Drop)
        .map(|h| (h.name.as_str(), h.hook))
        .collect();
    assert_eq!(
        seen,
        [
            ("eth0", HookKind::Egress),
            ("tapvm", HookKind::Ingress),
            ("qbr", HookKind::Ingress),
            ("qvb", HookKind::Egress),
            ("qvo", HookKind::Ingress),
            ("brs", HookKind::Ingress),
        ]
    );
    // The reply travels the other way and starts at the server, inferred.
    let offer = packet(&r, DhcpMessage::Offer);
    assert!(offer.hops[0].inferred && offer.hops[0].name.starts_with("dnsmasq pid"));
    assert_eq!(offer.hops.last().unwrap().name, "eth0");
}

#[test]
fn host_faults_are_named() {
    stopped_because("host-nft-drop-on-qbr", &["NETFILTER_DROP"]);
    stopped_because("host-qvo-down", &["link down", "qvo"]);
    let r = stopped_because("host-dnsmasq-killed", &["is gone"]);
    assert_eq!(r.stopped_at.as_ref().unwrap().ifname, "brs");
    stopped_because("host-jumbo-into-1500", &["MTU", "1500"]);
}

#[test]
fn seed004_healthy_exchange_crosses_ovs_with_the_vlan_rewrite_and_its_flow() {
    let r = judge("seed004-healthy");
    assert_eq!(r.verdict, Outcome::Delivered);
    assert_eq!(r.dhcp.as_ref().unwrap().matches_host_entry, Some(true));
    let discover = packet(&r, DhcpMessage::Discover);
    let inferred: Vec<&str> = discover
        .hops
        .iter()
        .filter(|h| h.inferred)
        .map(|h| h.name.as_str())
        .collect();
    assert!(
        inferred.contains(&"int-br-eth2") && inferred.contains(&"phy-br-eth2"),
        "{inferred:?}"
    );
    let push = discover
        .hops
        .iter()
        .find(|h| {
            h.detail
                .as_deref()
                .is_some_and(|d| d.contains("push_vlan vid 1000"))
        })
        .unwrap();
    assert_eq!(push.bridge.as_deref(), Some("br-eth2"));
    assert!(push
        .detail
        .as_deref()
        .unwrap()
        .contains("mod_vlan_vid:1000"));
    let eth2 = discover
        .hops
        .iter()
        .find(|h| h.name == "eth2" && h.hook == HookKind::Egress)
        .unwrap();
    assert_eq!(eth2.vlan, Some(1000));
}

#[test]
fn seed004_faults_are_named_at_the_right_hop() {
    let r = stopped_because("seed004-openflow-drop", &["OpenFlow", "tp_dst=67"]);
    assert_eq!(r.stopped_at.as_ref().unwrap().ifname, "br-eth2");
    // Next would have been eth2, with the tag br-eth2 should have pushed.
    let next = r.expected_next.as_ref().unwrap();
    assert_eq!((next.name.as_str(), next.vlan), ("eth2", Some(1000)));
    stopped_because("seed004-no-vlan-translation", &["VLAN tag mismatch"]);
    stopped_because("seed004-qvo-down", &["link down"]);
    stopped_because("seed004-nft-drop-on-qbr", &["NETFILTER_DROP"]);
    stopped_because("seed004-mtu-1400-on-qvb", &["MTU", "1400"]);
    stopped_because("seed004-dnsmasq-killed", &["is gone"]);
    let r = stopped_because("seed004-dnsmasq-not-running", &["none ran there"]);
    assert_eq!(r.stopped_at.as_ref().unwrap().ifname, "tapdhcp");
    assert_eq!(
        r.expected_next.as_ref().unwrap().name,
        "dnsmasq (not running)"
    );
}

#[test]
fn a_healthy_stream_cut_after_the_bridge_stops_where_the_events_end() {
    // Only what the probes saw up to qbr: as if qvb had eaten everything silently.
    let rec = load("host-healthy");
    let r = judge_with(&rec, |s| {
        s.retain(|s| {
            s.hop.dhcp_message() == Some(DhcpMessage::Discover)
                && ["eth0", "tapvm", "qbr"].contains(&s.hop.ifname.as_str())
                && s.hop.hook != HookKind::Drop
        })
    });
    assert_eq!(r.verdict, Outcome::Stopped);
    let at = r.stopped_at.as_ref().unwrap();
    assert_eq!(at.ifname, "qbr");
    assert_eq!(r.expected_next.as_ref().unwrap().name, "qvb");
    assert!(!r.dhcp.as_ref().unwrap().discover.delivered);
}

#[test]
fn an_empty_stream_is_unseen_with_what_to_check() {
    let r = judge_with(&load("seed004-healthy"), Vec::clear);
    assert_eq!(r.verdict, Outcome::Unseen);
    assert!(r.packets.is_empty());
    assert!(!r.likely_causes.is_empty());
}

/// Fields added to the report since the fixtures were printed: the typed verdict's `cause`;
/// each row's datapath section, drop reason, attributed bridge and benign class.
const ADDED: &[&str] = &[
    "cause",
    "ovs",
    "drop_reason",
    "attributed",
    "benign",
    "answered_by",
];

/// Removes the added fields from a report.
fn without_added_fields(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for k in ADDED {
                map.remove(*k);
            }
            map.values_mut().for_each(without_added_fields);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_added_fields),
        _ => {}
    }
}

#[test]
fn every_recording_replays_to_the_report_it_had_before_the_typed_verdict() {
    // The report's own fields never had these names, so removing them removes only additions.
    for name in BEFORE_TYPED_VERDICT {
        let before = std::fs::read_to_string(format!(
            "{}/fixtures/reports/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        for k in ADDED {
            assert!(!before.contains(&format!("\"{k}\":")), "{name}: {k}");
        }
    }
    for name in BEFORE_TYPED_VERDICT {
        let file = format!(
            "{}/fixtures/reports/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let before: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let mut now = serde_json::to_value(judge(name)).unwrap();
        // Every stop and every unseen packet now carries its cause as data.
        let r = judge(name);
        assert_eq!(r.cause.is_some(), r.verdict != Outcome::Delivered, "{name}");
        for p in &r.packets {
            assert_eq!(
                p.verdict.cause.is_some(),
                p.verdict.verdict != Outcome::Delivered,
                "{name}: {}",
                p.summary
            );
        }
        without_added_fields(&mut now);
        assert_eq!(now, before, "{name}: the report changed");
    }
}

#[test]
fn causes_are_typed_evidence_with_their_facts() {
    let r = judge("seed004-openflow-drop");
    match r.cause.as_ref().unwrap() {
        Cause::OpenflowDrop {
            bridge,
            flow,
            table,
            ..
        } => {
            assert_eq!(bridge, "br-eth2");
            assert!(flow.contains("tp_dst=67"), "{flow}");
            assert_eq!(*table, 0);
        }
        other => panic!("{other:?}"),
    }
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["cause"]["kind"], "openflow_drop");
    assert_eq!(json["cause"]["bridge"], "br-eth2");
    assert!(matches!(
        judge("host-jumbo-into-1500").cause,
        Some(Cause::Mtu { mtu: 1500, .. })
    ));
    assert!(matches!(
        judge("seed004-dnsmasq-not-running").cause,
        Some(Cause::ServerNotRunning {
            after: DhcpMessage::Discover,
            ..
        })
    ));
    assert!(matches!(
        judge("seed004-dnsmasq-killed").cause,
        Some(Cause::ServerGone { .. })
    ));
    assert!(matches!(
        judge("seed004-no-vlan-translation").cause,
        Some(Cause::VlanMismatch {
            seen_vlan: Some(1),
            access_vlan: 1000,
            ..
        })
    ));
    assert!(matches!(
        judge("host-qvo-down").cause,
        Some(Cause::LinkDown { .. })
    ));
    assert!(matches!(
        judge("host-nft-drop-on-qbr").cause,
        Some(Cause::KernelDrop { .. })
    ));
}

#[test]
fn ovn_native_dhcp_is_answered_by_ovn_controller() {
    let r = judge("ovn-healthy");
    assert_eq!(r.verdict, Outcome::Delivered);
    let dhcp = r.dhcp.as_ref().unwrap();
    assert!(dhcp.discover.delivered && dhcp.offer.delivered);
    assert!(dhcp.request.delivered && dhcp.ack.delivered);
    assert_eq!(dhcp.answered_by.as_deref(), Some("ovn-controller"));
    assert_eq!(dhcp.matches_host_entry, Some(true));
    // The reply starts at ovn-controller, inferred: nothing in the kernel sees it build it.
    let offer = packet(&r, DhcpMessage::Offer);
    assert!(offer.hops[0].inferred && offer.hops[0].name.starts_with("ovn-controller"));
}

#[test]
fn ovn_faults_are_named_in_ovns_words() {
    let r = stopped_because("ovn-port-security", &["ls_in_apply_port_sec", "vm1-port"]);
    assert_eq!(r.stopped_at.as_ref().unwrap().ifname, "br-int");
    assert!(matches!(
        r.cause,
        Some(Cause::Ovn(OvnCause::PortSecurity { .. }))
    ));
    let r = stopped_because("ovn-not-bound", &["no-such-port", "not bound"]);
    assert_eq!(r.stopped_at.as_ref().unwrap().ifname, "br-int");
    assert!(matches!(
        r.cause,
        Some(Cause::Ovn(OvnCause::PortNotBound { bound_on: None, .. }))
    ));
    let r = stopped_because("ovn-controller-killed", &["ovn-controller", "not running"]);
    assert!(matches!(
        r.cause,
        Some(Cause::Ovn(OvnCause::ControllerDown {
            after: DhcpMessage::Discover,
            ..
        }))
    ));
    let r = stopped_because(
        "ovn-acl-drop",
        &["ls_in_acl", "from-lport", "priority 1002"],
    );
    let at = r.stopped_at.as_ref().unwrap();
    assert_eq!(
        (at.ifname.as_str(), at.hook.as_str()),
        ("br-int", "ovn-pipeline")
    );
    match &r.cause {
        Some(Cause::Ovn(OvnCause::LogicalDrop {
            stage, acl, flow, ..
        })) => {
            assert_eq!(stage.as_deref(), Some("ls_in_acl"));
            let acl = acl.as_ref().unwrap();
            assert_eq!((acl.priority, acl.action.as_str()), (1002, "drop"));
            assert!(flow.contains("tp_dst=67"), "{flow}");
        }
        other => panic!("{other:?}"),
    }
    let r = stopped_because("ovn-no-dhcp-options", &["vm1-port", "DHCPv4 options"]);
    assert_eq!(r.stopped_at.as_ref().unwrap().ifname, "br-int");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["cause"]["kind"], "ovn_no_dhcp_options");
    assert_eq!(json["cause"]["gap"]["kind"], "no_options");
}

#[test]
fn an_ovn_drop_is_named_by_the_flow_compiled_from_a_logical_drop() {
    // Another drop flow of br-int grew during the trace too, one the simulation cannot rule out
    // and no logical flow of this host's datapaths explains: the ACL's flow is the evidence.
    let mut rec = load("ovn-acl-drop");
    let flows = |t: &mut crate::topology::Topology| {
        let b = t
            .ovs_bridges
            .iter_mut()
            .find(|b| b.name == "br-int")
            .unwrap();
        std::mem::take(&mut b.flows)
    };
    let mut stray = crate::topology::Flow {
        table: 70,
        priority: 100,
        n_packets: None,
        cookie: "0x1234".into(),
        matches: vec![("reg15".into(), "0x9".into())],
        actions: vec![crate::topology::Action::Drop],
        text: "cookie=0x1234,table=70,priority=100,reg15=0x9 actions=drop".into(),
    };
    for (t, n) in [(&mut rec.before, 0), (&mut rec.after, 5)] {
        let mut list = flows(t);
        stray.n_packets = Some(n);
        list.insert(0, stray.clone());
        t.ovs_bridges
            .iter_mut()
            .find(|b| b.name == "br-int")
            .unwrap()
            .flows = list;
    }
    let r = judge_with(&rec, |_| {});
    match &r.cause {
        Some(Cause::Ovn(OvnCause::LogicalDrop { stage, flow, .. })) => {
            assert_eq!(stage.as_deref(), Some("ls_in_acl"));
            assert!(!flow.contains("cookie=0x1234"), "{flow}");
        }
        other => panic!("{other:?}"),
    }
}

/// The logical router of seed 002's recordings, in both of a recording's topologies.
fn edit_router(
    rec: &mut super::recording::Recording,
    edit: impl Fn(&mut crate::topology::ovn::LogicalRouter),
) {
    for t in [&mut rec.before, &mut rec.after] {
        let ovn = t.ovn.as_mut().unwrap();
        edit(&mut ovn.routers[0]);
    }
}

#[test]
fn seed_002s_routed_path_crosses_the_logical_router() {
    let r = judge("ovn-octavia-routed");
    assert_eq!(r.verdict, Outcome::Delivered, "{:?}", r.reason);
    let at = |n: &str| r.expected_path.iter().position(|h| h == n).unwrap();
    assert_eq!(at("br-int") + 1, at("octavia-link-router"));
    assert_eq!(at("octavia-link-router") + 1, at("lb-mgmt-net"));
    // Both ways, the logical hops are crossed, inferred.
    for p in &r.packets {
        assert!(
            p.hops
                .iter()
                .any(|h| h.inferred && h.name == "octavia-link-router"),
            "{}",
            p.summary
        );
    }
}

#[test]
fn seed_002s_logical_router_faults_stop_at_the_router() {
    let r = stopped_because(
        "ovn-octavia-router-port-disabled",
        &["lrp-lb-mgmt", "octavia-link-router", "disabled"],
    );
    let at = r.stopped_at.as_ref().unwrap();
    assert_eq!(
        (at.ifname.as_str(), at.hook.as_str()),
        ("octavia-link-router", "ovn-pipeline")
    );
    assert_eq!(r.expected_next.as_ref().unwrap().name, "lb-mgmt-net");
    assert!(matches!(
        r.cause,
        Some(Cause::Ovn(OvnCause::RouterPortDisabled { .. }))
    ));
    // The same run with the router itself disabled, then with no network of the router that
    // holds the amphora's address: what stops it is named from the topology.
    let mut rec = load("ovn-octavia-router-port-disabled");
    edit_router(&mut rec, |r| {
        r.enabled = Some(false);
        for p in &mut r.ports {
            p.enabled = None;
        }
    });
    let r = judge_with(&rec, |_| {});
    assert!(
        matches!(r.cause, Some(Cause::Ovn(OvnCause::RouterDisabled { .. }))),
        "{:?}",
        r.reason
    );
    let mut rec = load("ovn-octavia-router-port-disabled");
    edit_router(&mut rec, |r| {
        for p in &mut r.ports {
            p.enabled = None;
            if p.name == "lrp-lb-mgmt" {
                p.networks = vec!["172.25.1.89/16".into()];
            }
        }
    });
    let r = judge_with(&rec, |_| {});
    let reason = r.reason.clone().unwrap_or_default();
    assert!(reason.contains("no route to 172.24.0.5"), "{reason}");
    match &r.cause {
        Some(Cause::Ovn(OvnCause::NoRoute {
            router,
            toward,
            instead,
            ..
        })) => {
            assert_eq!(
                (router.as_str(), toward.as_str()),
                ("octavia-link-router", "lrp-lb-mgmt")
            );
            assert_eq!(instead, &None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_dhcp_request_a_datapath_meter_drops_is_named_by_its_copp_meter() {
    // The healthy native-DHCP run, its switch given a CoPP meter, and the DISCOVER dropped by a
    // datapath meter where br-int took it (what the kernel reports as OVS_DROP_METER), nothing
    // after it.
    let mut rec = load("ovn-healthy");
    for t in [&mut rec.before, &mut rec.after] {
        t.ovn.as_mut().unwrap().switches[0].copp = vec![crate::topology::ovn::CoppMeter {
            protocol: crate::topology::ovn::COPP_DHCPV4.into(),
            meter: "dhcp-meter".into(),
            unit: "pktps".into(),
            rate: 1,
            burst: 0,
        }];
    }
    let metered = |reason: &str| {
        let reason = reason.to_string();
        judge_with(&rec, move |s| {
            let at = s
                .iter()
                .position(|s| s.hop.hook == HookKind::OvsUpcall)
                .unwrap();
            s.truncate(at + 1);
            let mut drop = s[at].clone();
            drop.hop.hook = HookKind::Drop;
            drop.hop.t_ns += 1_000;
            drop.hop.ovs = None;
            drop.hop.drop_reason = Some(crate::event::DropReason(reason));
            s.push(drop);
        })
    };
    let r = metered("OVS_DROP_METER");
    assert_eq!(r.verdict, Outcome::Stopped, "{:?}", r.reason);
    match &r.cause {
        Some(Cause::Ovn(OvnCause::CoppMeter {
            switch,
            meter,
            rate,
            ..
        })) => assert_eq!(
            (switch.as_str(), meter.as_str(), *rate),
            ("sw0", "dhcp-meter", 1)
        ),
        other => panic!("{other:?}"),
    }
    assert!(r
        .reason
        .as_deref()
        .unwrap()
        .contains("CoPP meter dhcp-meter"));
    // Another drop reason is no meter's.
    assert!(!matches!(
        metered("OVS_DROP_EXPLICIT").cause,
        Some(Cause::Ovn(OvnCause::CoppMeter { .. }))
    ));
}

/// A run stopped by a second signal before the flow counters were read again judges on the
/// first discovery twice. Seed 004's OpenFlow drop, with the flow added after pathtrace
/// started (so that the path it computed could not predict it), then has no evidence left but
/// the benign drops (qbr's own copy, flood copies to down ports): the verdict must say what is
/// missing, never blame one of those copies.
#[test]
fn without_the_evidence_after_the_capture_a_benign_drop_is_never_the_cause() {
    use super::after_capture::AfterCapture;
    let mut rec = load("seed004-openflow-drop");
    let br_eth2 = rec
        .before
        .ovs_bridges
        .iter_mut()
        .find(|b| b.name == "br-eth2")
        .unwrap();
    let flows = br_eth2.flows.len();
    br_eth2
        .flows
        .retain(|f| !f.actions.contains(&crate::topology::Action::Drop));
    assert!(
        br_eth2.flows.len() < flows,
        "the drop flow is in the recording"
    );
    rec.after = rec.before.clone();
    rec.after_capture = AfterCapture::SkippedBySignal;
    let r = judge_with(&rec, |_| {});
    assert_eq!(r.verdict, Outcome::Stopped, "{:?}", r.reason);
    assert_eq!(r.after_capture, AfterCapture::SkippedBySignal);
    match &r.cause {
        Some(Cause::Unexplained {
            missing: Some(AfterCapture::SkippedBySignal),
            ..
        }) => {}
        other => panic!("{other:?}: {:?}", r.reason),
    }
    let reason = r.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("OpenFlow flow counters"), "{reason}");
    assert!(!reason.contains("kfree_skb"), "{reason}");
    // The drops it saw are still shown, as benign copies.
    let folded: usize = r
        .packets
        .iter()
        .flat_map(|p| &p.hops)
        .filter(|h| h.benign.is_some())
        .count();
    assert!(folded > 0, "{r:#?}");
    // With the counters read, the same stream names the flow.
    stopped_because("seed004-openflow-drop", &["OpenFlow", "tp_dst=67"]);
}
