//! Bonds on the path (VM only: the CI host's kernel has no bonding module): an active-backup
//! Linux bond, and an Open vSwitch bond port, between a DHCP client and its server. The path
//! names the bond, its mode, members and active member; the exchange is followed over the
//! member that carried it, and after the active member changes, over the other one.

use pathtrace_testbed::{
    bonded::{BondedServer, SwitchBond},
    journey_run::Journey,
    kernel_state::assert_nothing_left,
    tracer::pathtrace_bin,
    Lab,
};
use serde_json::Value;

/// `pathtrace path --dhcp --output json` for the client.
fn expected_path(topo: &BondedServer) -> Value {
    let out = std::process::Command::new(pathtrace_bin())
        .args([
            "path",
            "--dhcp",
            "--mac",
            &topo.client_mac,
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The interfaces where the report saw the client's first request (a DISCOVER, or a REQUEST
/// for the lease it already holds), in order.
fn request_hops(r: &Value) -> Vec<String> {
    r["packets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["way"] == "outbound")
        .unwrap_or_else(|| panic!("no request: {r:#}"))["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["inferred"] == false && h["hook"] != "drop")
        .filter_map(|h| h["name"].as_str().map(str::to_string))
        .collect()
}

fn bond_carries_the_exchange_over_its_active_member(kind: SwitchBond, tag: &str) {
    let mut lab = Lab::new(tag);
    let topo = BondedServer::build(&mut lab, kind).unwrap();
    for active in [0, 1] {
        topo.make_active(active).unwrap();
        let (member, standby) = (topo.members[active], topo.members[1 - active]);
        // OVS writes the active member into OVSDB a moment after the change.
        std::thread::sleep(std::time::Duration::from_secs(2));
        let path = expected_path(&topo);
        let hops = path["hops"].as_array().unwrap();
        let bond = hops
            .iter()
            .find_map(|h| h.get("bond").filter(|b| b["name"] == "bond0"))
            .unwrap_or_else(|| panic!("no hop names bond0: {path:#}"));
        assert_eq!(bond["mode"], "active-backup", "{path:#}");
        assert_eq!(bond["active"], member, "{path:#}");
        assert_eq!(bond["members"].as_array().unwrap().len(), 2, "{path:#}");
        let names: Vec<&str> = hops.iter().filter_map(|h| h["name"].as_str()).collect();
        assert!(
            names.contains(&member) && !names.contains(&standby),
            "{path:#}"
        );
        // The server's own bond is a hop too.
        assert!(names.contains(&"sbond"), "{path:#}");

        let journey = Journey::start(
            &mut lab,
            &format!("{tag}-active-{member}"),
            &["--dhcp", &topo.client_mac, "--timeout", "40"],
        )
        .unwrap();
        let (code, r) = journey.finish_after_dhclient(&mut lab, &topo.client, 30);
        assert_eq!(code, 0, "{r:#}");
        assert_eq!(r["verdict"], "delivered", "{r:#}");
        assert_eq!(r["dhcp"]["ACK"]["delivered"], true, "{r:#}");
        let seen = request_hops(&r);
        assert!(seen.iter().any(|h| h == member), "{member}: {seen:?}");
        assert!(!seen.iter().any(|h| h == standby), "{standby}: {seen:?}");
    }
    assert_nothing_left(&lab);
}

#[test]
fn a_linux_bond_is_a_hop_and_its_active_member_carries_the_exchange() {
    bond_carries_the_exchange_over_its_active_member(SwitchBond::Linux, "jlbond");
}

#[test]
fn an_ovs_bond_is_a_hop_and_its_active_member_carries_the_exchange() {
    bond_carries_the_exchange_over_its_active_member(SwitchBond::Ovs, "jobond");
}
