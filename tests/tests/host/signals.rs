//! How a journey ends when people end it: Ctrl-C once (the evidence after the capture is still
//! read, under a deadline it announces), Ctrl-C twice (the report at once, without it), or the
//! reader of its output going away (as a first Ctrl-C). Each time the report is printed,
//! replays to the same verdict, and nothing of pathtrace is left in the kernel.

use std::time::Duration;

use pathtrace_testbed::{
    cmd::in_netns, journey_run::Journey, kernel_state::assert_nothing_left, serial,
    topologies::LinuxComputeNode, Lab, Tracer,
};

/// The node with its server's input dropping DHCP requests: the exchange cannot finish, so
/// only a signal or the timeout ends the journey.
fn node_that_fails(lab: &mut Lab) -> LinuxComputeNode {
    let topo = LinuxComputeNode::build(lab).unwrap();
    let rules = "add table inet pt_fault; add chain inet pt_fault c { type filter hook input priority 0; }; add rule inet pt_fault c udp dport 67 drop";
    in_netns(&topo.srv, "nft", &[rules]).unwrap();
    topo
}

/// Ctrl-C once: the run stops, says it is reading the evidence, and judges as a run that timed
/// out does (the nftables drop in the server's namespace).
#[test]
fn one_sigint_still_reads_the_evidence_and_names_the_cause() {
    let _serial = serial();
    let mut lab = Lab::new("sig1");
    let topo = node_that_fails(&mut lab);
    let journey = Journey::start(&mut lab, "sigint-once", &["--dhcp", &topo.vm_mac]).unwrap();
    let (code, r, took) = journey.stop_after_failed_dhclient(
        &mut lab,
        (&topo.vm, 4),
        Duration::from_millis(500),
        &[libc::SIGINT],
    );
    eprintln!("first signal to the end of pathtrace: {took:?}");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["cause"]["kind"], "kernel_drop", "{r:#}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("NETFILTER_DROP"),
        "{r:#}"
    );
    // Read: the report does not say it is missing.
    assert!(r.get("after_capture").is_none(), "{r:#}");
    assert_nothing_left(&lab);
}

/// Ctrl-C twice in a row: the report comes at once, says the evidence after the capture was
/// skipped, and nothing is left attached.
#[test]
fn sigint_twice_gives_the_report_at_once_and_leaves_nothing() {
    let _serial = serial();
    let mut lab = Lab::new("sig2");
    let topo = node_that_fails(&mut lab);
    let journey = Journey::start(&mut lab, "sigint-twice", &["--dhcp", &topo.vm_mac]).unwrap();
    // The second signal comes while the first one's detach runs (a tcx detach waits for an RCU
    // grace period per hook), before the evidence is read.
    let (code, r, took) = journey.stop_after_failed_dhclient(
        &mut lab,
        (&topo.vm, 4),
        Duration::from_millis(500),
        &[libc::SIGINT, libc::SIGINT],
    );
    eprintln!("first signal to the end of pathtrace: {took:?}");
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["verdict"], "stopped", "{r:#}");
    assert_eq!(r["after_capture"], "skipped_by_signal", "{r:#}");
    // The packets were seen: the journey is there, whatever the cause became without the
    // evidence (the drop the kernel reported names itself).
    assert_eq!(r["dhcp"]["DISCOVER"]["seen"], true, "{r:#}");
    assert_nothing_left(&lab);
}

/// A journey whose output nobody reads any more (`| head` gone) stops as on a first Ctrl-C: it
/// ends long before its timeout, writes its recording, and leaves nothing behind.
#[test]
fn a_journey_whose_reader_goes_away_stops_and_cleans_up() {
    let _serial = serial();
    let mut lab = Lab::new("sigpipe");
    let topo = node_that_fails(&mut lab);
    let record = lab.workdir().unwrap().join("closed-output.json");
    let record_arg = record.display().to_string();
    let tracer = Tracer::start_unread(&[
        "--dhcp",
        &topo.vm_mac,
        "--timeout",
        "120",
        "--record",
        &record_arg,
    ])
    .unwrap();
    let out = tracer.wait_for(Duration::from_secs(30)).unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("stopped by its output closing"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(record.exists(), "no recording: {out:?}");
    assert_nothing_left(&lab);
}
