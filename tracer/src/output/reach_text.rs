//! Where a frame from a MAC can go, as text (`pathtrace path --mac MAC` without a goal): each
//! layer-2 domain, the router that leads into it, its links and where frames leave the host.

use std::fmt::Write as _;

use crate::{output::json_name, path::reach::Reach, shown::shown};

pub fn render(r: &Reach) -> String {
    let links = r.links().count();
    let mut out = format!(
        "where a frame from {} can go: {links} link(s) in {} layer-2 domain(s); give --dst, \
         --dhcp or --to for the path of one packet\n",
        r.mac,
        r.domains.len()
    );
    for (i, d) in r.domains.iter().enumerate() {
        match &d.via {
            None => {
                let _ = writeln!(out, "\n{}. the sender's domain", i + 1);
            }
            Some(v) => {
                let _ = writeln!(
                    out,
                    "\n{}. behind router {} (from {} out of {})",
                    i + 1,
                    shown(&v.netns),
                    shown(&v.from),
                    shown(&v.link)
                );
            }
        }
        for l in &d.links {
            let leaves = if l.leaves_host {
                "  leaves the host"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "   {:<24} {:<24} {}{leaves}",
                shown(&l.name),
                shown(&l.netns),
                json_name(&l.device)
            );
        }
        if !d.ovs_bridges.is_empty() {
            let names: Vec<String> = d.ovs_bridges.iter().map(|b| shown(b)).collect();
            let _ = writeln!(out, "   Open vSwitch: {}", names.join(", "));
        }
    }
    if let Some(t) = &r.truncated {
        let _ = writeln!(out, "\nbounded: {t}");
    }
    out
}
