//! The journey for a person: each packet's hops as a path diagram in the spirit of the seeds'
//! hand-drawn ones (one line per hop, the VLAN as seen there), then the verdict, last.

use std::fmt::Write as _;

use crate::{
    journey::{
        mode::Mode,
        report::{PacketReport, Report},
        verdict::Outcome,
    },
    output::json_name,
    path::{fmt_vlan, ExpectedPath},
};

struct Paint(bool);

impl Paint {
    fn outcome(&self, o: Outcome) -> String {
        let (word, colour) = match o {
            Outcome::Delivered => ("DELIVERED", "32"),
            Outcome::Stopped => ("STOPPED", "31"),
            Outcome::Unseen => ("UNSEEN", "33"),
        };
        if self.0 {
            format!("\x1b[1;{colour}m{word}\x1b[0m")
        } else {
            word.to_string()
        }
    }

    fn dim(&self, s: &str) -> String {
        if self.0 {
            format!("\x1b[2m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

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
        let flag = |seen: bool, delivered: bool| match (seen, delivered) {
            (true, true) => "delivered",
            (true, false) => "seen, not delivered",
            _ => "not seen",
        };
        let _ = writeln!(
            out,
            "\nDHCP: DISCOVER {}, OFFER {}, REQUEST {}, ACK {}",
            flag(d.discover.seen, d.discover.delivered),
            flag(d.offer.seen, d.offer.delivered),
            flag(d.request.seen, d.request.delivered),
            flag(d.ack.seen, d.ack.delivered),
        );
        if let Some(server) = d.server {
            let _ = write!(out, "      server {server}");
            if let Some(ip) = d.offered_ip {
                let _ = write!(out, " offered {ip}");
            }
            match (d.reserved_ip, d.matches_host_entry) {
                (Some(r), Some(true)) => {
                    let _ = write!(out, " = host entry {r}");
                }
                (Some(r), Some(false)) => {
                    let _ = write!(out, " but the host entry says {r}");
                }
                _ => {}
            }
            out.push('\n');
        }
    }
    if report.lost_events > 0 {
        let _ = writeln!(
            out,
            "\n{} event(s) were lost (ring buffer full): the picture may be incomplete",
            report.lost_events
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
