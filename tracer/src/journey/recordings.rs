//! The recordings of real runs kept in `fixtures/recordings/` (the Linux-bridge node of the
//! host tests, seed 004 with real OVS, OVN native DHCP and seed 002's routed OVN path in the VM,
//! healthy and with one fault each), judged as
//! `pathtrace replay` judges them: what the journey and view tests run on.

use super::{
    recording::Recording,
    report::{self, Report},
};
use crate::{event::Sighting, path::ExpectedPath};

/// Every recording.
pub const ALL: &[&str] = &[
    "host-healthy",
    "host-nft-drop-on-qbr",
    "host-qvo-down",
    "host-dnsmasq-killed",
    "host-jumbo-into-1500",
    "seed004-healthy",
    "seed004-openflow-drop",
    "seed004-no-vlan-translation",
    "seed004-qvo-down",
    "seed004-dnsmasq-not-running",
    "seed004-dnsmasq-killed",
    "seed004-nft-drop-on-qbr",
    "seed004-mtu-1400-on-qvb",
    "ovn-healthy",
    "ovn-no-dhcp-options",
    "ovn-port-security",
    "ovn-not-bound",
    "ovn-controller-killed",
    "ovn-acl-drop",
    "ovn-octavia-routed",
    "ovn-octavia-router-port-disabled",
];

/// Those recorded before the verdict was typed, whose reports and verbose views of then are
/// kept in `fixtures/reports/` (the first thirteen of [`ALL`]).
pub const BEFORE_TYPED_VERDICT: &[&str] = ALL.split_at(13).0;

pub fn load(name: &str) -> Recording {
    let file = format!(
        "{}/fixtures/recordings/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    Recording::read(std::path::Path::new(&file)).unwrap()
}

/// Judges a recording as `pathtrace replay` does, after `edit` changes its stream.
pub fn judge_with(rec: &Recording, edit: impl FnOnce(&mut Vec<Sighting>)) -> Report {
    let mut sightings = rec.sightings().unwrap();
    edit(&mut sightings);
    let plan = rec.plan(&sightings).unwrap();
    report::build(rec.inputs(&plan, sightings))
}

pub fn judge(name: &str) -> Report {
    judge_with(&load(name), |_| {})
}

/// The report and the expected path it was judged against.
pub fn judged(name: &str) -> (Report, ExpectedPath) {
    let rec = load(name);
    let sightings = rec.sightings().unwrap();
    let plan = rec.plan(&sightings).unwrap();
    let report = report::build(rec.inputs(&plan, sightings));
    (report, plan.path)
}
