//! Tests that run inside a VM (`cargo xtask test` boots Debian's 6.12 backports kernel under
//! virtme-ng): the same pathtrace binary must load and see packets on a kernel other than the
//! host's, with tcx and with the netlink fallback.

use pathtrace_testbed::{
    cmd::run,
    dhcp::{acquire_lease, DhcpClient},
    kernel_state::{attached_programs, qdisc_kinds},
    topologies::DhcpOnBridge,
    Lab, Tracer,
};

#[test]
fn runs_on_the_vm_kernel() {
    let release = run("uname", &["-r"]).unwrap();
    assert!(
        release.starts_with("6.12."),
        "not in the VM? kernel {release}"
    );
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
    let expected_kind = if mode == "netlink" {
        "clsact/ingress"
    } else {
        "tcx/ingress"
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
fn openvswitch_module_is_available_for_later_tests() {
    // The VM exists for what the CI host lacks; fail loudly if the image lost it.
    run("modprobe", &["openvswitch"]).unwrap();
}
