//! Scenarios run the same way on the host and in the VM (which kernel has which module
//! decides where each runs).

use serde_json::Value;

use crate::{
    cmd::{ip, ping},
    journeys::{by_fingerprint, place, Place},
    kernel_state::assert_nothing_left,
    Lab, Tracer,
};

/// An overlay between two namespaces.
#[derive(Clone, Copy, Debug)]
pub enum Tunnel {
    /// `ip link add vx0 type vxlan id 42 ... dstport 4789` (host and VM).
    Vxlan,
    /// `ip link add vx0 type geneve id 42 ...` (VM: the host has no geneve module).
    Geneve,
}

/// Two namespaces joined by an underlay veth (10.90.0.0/24) and a tunnel over it
/// (192.168.90.0/24, VNI 42). Traced on the overlay device and both underlay ends with a
/// filter on the overlay MAC only: each echo request must be one fingerprint at its three hops,
/// the underlay hops reporting the inner packet and the tunnel around it.
pub fn tunnel_inner_packet_is_followed(tunnel: Tunnel) {
    let mut lab = Lab::new("tun");
    let u1 = lab.netns("u1").unwrap();
    let u2 = lab.netns("u2").unwrap();
    lab.veth((&u1, "ul0"), (&u2, "ul0")).unwrap();
    lab.addr(&u1, "ul0", "10.90.0.1/24").unwrap();
    lab.addr(&u2, "ul0", "10.90.0.2/24").unwrap();
    let kind = match tunnel {
        Tunnel::Vxlan => "vxlan",
        Tunnel::Geneve => "geneve",
    };
    for (ns, local, remote, overlay) in [
        (&u1, "10.90.0.1", "10.90.0.2", "192.168.90.1/24"),
        (&u2, "10.90.0.2", "10.90.0.1", "192.168.90.2/24"),
    ] {
        let mut args = vec![
            "link", "add", "vx0", "type", kind, "id", "42", "remote", remote,
        ];
        if let Tunnel::Vxlan = tunnel {
            args.extend(["local", local, "dstport", "4789", "dev", "ul0"]);
        }
        ip(ns, &args).unwrap();
        lab.addr(ns, "vx0", overlay).unwrap();
        ip(ns, &["link", "set", "vx0", "up"]).unwrap();
    }
    let inner_mac = lab.mac_of(&u1, "vx0").unwrap();
    // The underlay MACs are not the filter's: only the encapsulated frame can match.
    let ifaces = [
        format!("{u1}:vx0"),
        format!("{u1}:ul0"),
        format!("{u2}:ul0"),
    ];
    let mut args = vec![
        "trace",
        "--output",
        "json",
        "--filter-mac",
        &inner_mac,
        "--filter-proto",
        "icmp",
        "--no-drops",
    ];
    for i in &ifaces {
        args.extend(["-i", i.as_str()]);
    }
    let tracer = Tracer::start(&args).unwrap();
    ping(&u1, "192.168.90.2", "2");
    let out = tracer.stop(libc::SIGINT).unwrap();
    assert!(out.status.success(), "{out:?}");
    let hops = out.hops();
    let requests: Vec<&Value> = hops.iter().filter(|h| h["icmp"]["type"] == 8).collect();
    let packets = by_fingerprint(requests.iter().copied());
    assert_eq!(packets.len(), 2, "two echo requests: {hops:#?}");
    for (fp, group) in packets {
        let places: Vec<_> = group.iter().map(|h| place(h)).collect();
        let want: Vec<Place> = [
            (u1.as_str(), "vx0", "egress"),
            (u1.as_str(), "ul0", "egress"),
            (u2.as_str(), "ul0", "ingress"),
        ]
        .iter()
        .map(|(n, i, h)| (n.to_string(), i.to_string(), h.to_string()))
        .collect();
        assert_eq!(places, want, "request {fp}");
        // Overlay hop: plain. Underlay hops: the inner packet, with the tunnel around it.
        assert!(group[0]["tunnel"].is_null(), "{}", group[0]);
        for h in &group[1..] {
            assert_eq!(h["ip"]["src"], "192.168.90.1", "{h}");
            assert_eq!(h["src_mac"], inner_mac.as_str(), "{h}");
            assert_eq!(h["tunnel"]["kind"], kind, "{h}");
            assert_eq!(h["tunnel"]["vni"], 42, "{h}");
            assert_eq!(h["tunnel"]["outer_src"], "10.90.0.1", "{h}");
            assert_eq!(h["tunnel"]["outer_dst"], "10.90.0.2", "{h}");
        }
    }
    assert_nothing_left(&lab);
}
