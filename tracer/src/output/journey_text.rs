//! The verbose journey (`-v`): every event of each packet as a table row in path order (one
//! line per event, the VLAN as seen there, benign drops included), then the verdict, last.

use std::fmt::Write as _;

use crate::{
    journey::{
        after_capture::WHAT_IT_HOLDS,
        mode::Mode,
        report::{PacketReport, Report},
        verdict::Outcome,
    },
    output::{dhcp_summary, json_name, paint::Paint},
    path::{fmt_vlan, ExpectedPath},
};

pub fn render(report: &Report, expected: &ExpectedPath, colour: bool) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} along {}",
        match report.mode {
            Mode::Dhcp => "DHCP exchange of",
            Mode::Icmp => "ICMP packets of",
            Mode::Any => "packets of",
        },
        report.mac,
        expected
            .hops
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    for p in &report.packets {
        packet(&mut out, p, &paint);
    }
    if let Some(d) = &report.dhcp {
        let _ = writeln!(out, "\nDHCP: {}", dhcp_summary::messages(d));
        if let Some(server) = dhcp_summary::server(d) {
            let _ = writeln!(out, "      {server}");
        }
    }
    for v in &report.vanished {
        let _ = writeln!(out, "\nvanished: {v}");
    }
    if !report.after_capture.was_read() {
        let _ = writeln!(
            out,
            "\nevidence: {WHAT_IT_HOLDS} were not read ({})",
            report.after_capture
        );
    }
    if report.lost_events > 0 {
        let _ = writeln!(
            out,
            "\n{} event(s) were lost ({}): the picture may be incomplete",
            report.lost_events,
            report.why_lost()
        );
    }
    let _ = writeln!(out, "\nverdict: {}", paint.outcome(report.verdict));
    if let Some(at) = &report.stopped_at {
        let _ = writeln!(
            out,
            "  stopped at: {}{} ({})",
            at.ifname,
            at.netns
                .as_ref()
                .map(|n| format!(" in {n}"))
                .unwrap_or_default(),
            at.hook
        );
    }
    if let Some(reason) = &report.reason {
        let _ = writeln!(out, "  reason:     {reason}");
    }
    if let Some(next) = &report.expected_next {
        let _ = writeln!(
            out,
            "  expected:   {}{}{}",
            next.name,
            next.direction
                .as_ref()
                .map(|d| format!(" {d}"))
                .unwrap_or_default(),
            next.vlan.map(|v| format!(", VLAN {v}")).unwrap_or_default()
        );
    }
    for c in &report.likely_causes {
        let _ = writeln!(out, "  check:      {c}");
    }
    out
}

fn packet(out: &mut String, p: &PacketReport, paint: &Paint) {
    let _ = writeln!(
        out,
        "\n{} ({}) {}",
        p.summary,
        json_name(&p.way),
        paint.outcome(p.verdict.verdict)
    );
    for h in &p.hops {
        let place = match &h.netns {
            Some(ns) => format!("{} [{ns}]", h.name),
            None => h.name.clone(),
        };
        let line = format!(
            "  {:>2}  {:<40} {:<11} {:<9} {:>9} {:>5} B  {}",
            h.hop,
            place,
            h.hook,
            format!("vlan {}", fmt_vlan(h.vlan)),
            if h.inferred {
                "-".to_string()
            } else {
                format!("+{:.0}us", h.t_us)
            },
            h.len,
            h.detail.as_deref().unwrap_or("")
        );
        let line = line.trim_end().to_string();
        if h.inferred || h.path_hop.is_none() {
            let _ = writeln!(out, "{}", paint.dim(&line));
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    if p.verdict.verdict != Outcome::Delivered {
        if let Some(r) = &p.verdict.reason {
            let _ = writeln!(out, "      -> {r}");
        }
    }
}
