//! The default journey view, one screen per exchange: the verdict and the DHCP exchange first,
//! then each packet's timeline (one step per device or bridge, in the order things happened,
//! the datapath's actions under the bridge whose flow produced them, benign drops counted on
//! one line). Packets that did not arrive, and the first delivered packet each way, are shown
//! step by step; later delivered packets get one line. `-v` prints every event instead.

use super::{
    dhcp_summary,
    fit::wrap,
    paint::Paint,
    timeline::{self, Step, Timeline},
};
use crate::{
    journey::{
        after_capture::WHAT_IT_HOLDS,
        mode::Mode,
        report::{PacketReport, Report},
        verdict::Outcome,
    },
    path::{fmt_vlan, ExpectedPath, HopKind},
};

/// How the view is printed.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// ANSI colour (a terminal, without `NO_COLOR`).
    pub colour: bool,
    /// No line is longer than this.
    pub width: usize,
}

/// Where continuation lines and the steps' second column start.
const LABEL: usize = 14;

struct Out {
    lines: Vec<String>,
    width: usize,
}

impl Out {
    fn line(&mut self, text: &str) {
        self.lines.extend(wrap(text, self.width, LABEL));
    }

    fn labelled(&mut self, label: &str, text: &str) {
        self.line(&format!("  {label:<width$}{text}", width = LABEL - 2));
    }

    /// Dimmed, each wrapped line on its own (the escapes take no columns).
    fn dim_line(&mut self, text: &str, paint: &Paint) {
        for l in wrap(text, self.width, LABEL) {
            self.lines.push(paint.dim(&l));
        }
    }

    fn blank(&mut self) {
        self.lines.push(String::new());
    }
}

pub fn render(report: &Report, expected: &ExpectedPath, style: Style) -> String {
    let paint = Paint(style.colour);
    let mut out = Out {
        lines: Vec::new(),
        width: style.width,
    };
    verdict(&mut out, report, &paint);
    // Where a run did not arrive, what was expected beyond the stop; else the steps show it.
    if report.verdict != Outcome::Delivered {
        let hops: Vec<&str> = expected.hops.iter().map(|h| h.name.as_str()).collect();
        out.labelled("path:", &hops.join(" → "));
    }
    // A packet like one already shown (same way, same places, same outcome and reason: a later
    // message of a delivered exchange, a retransmission that stops where the first did) gets one
    // line.
    let mut shown: Vec<Shape> = Vec::new();
    let mut last_compact = false;
    for p in &report.packets {
        let t = timeline::build(&p.hops);
        let shape = Shape::of(p, &t);
        let delivered = p.verdict.verdict == Outcome::Delivered;
        let brief = shown
            .iter()
            .any(|s| s.way == shape.way && (delivered || *s == shape));
        if !(brief && last_compact) {
            out.blank();
        }
        last_compact = brief;
        if brief {
            compact(&mut out, p, &t, &paint);
            continue;
        }
        packet(&mut out, p, &t, &paint);
        shown.push(shape);
    }
    let mut text = out.lines.join("\n");
    text.push('\n');
    text
}

fn verdict(out: &mut Out, report: &Report, paint: &Paint) {
    let what = match report.mode {
        Mode::Dhcp => "DHCP exchange of",
        Mode::Icmp => "ICMP packets of",
        Mode::Any => "packets of",
    };
    out.line(&format!(
        "{what} {}: {}",
        report.mac,
        paint.outcome(report.verdict)
    ));
    if let Some(at) = &report.stopped_at {
        let netns = at.netns.as_ref().map(|n| format!(" in {n}"));
        out.labelled(
            "stopped at:",
            &format!("{}{} ({})", at.ifname, netns.unwrap_or_default(), at.hook),
        );
    }
    if let Some(reason) = &report.reason {
        out.labelled("reason:", reason);
    }
    if let Some(next) = &report.expected_next {
        let direction = next.direction.map(|d| format!(" {d}"));
        let vlan = next.vlan.map(|v| format!(", VLAN {v}"));
        out.labelled(
            "expected:",
            &format!(
                "{}{}{}",
                next.name,
                direction.unwrap_or_default(),
                vlan.unwrap_or_default()
            ),
        );
    }
    for c in &report.likely_causes {
        out.labelled("check:", c);
    }
    dhcp(out, report);
    for v in &report.vanished {
        out.labelled("vanished:", &v.to_string());
    }
    if !report.after_capture.was_read() {
        out.labelled(
            "evidence:",
            &format!("{WHAT_IT_HOLDS} were not read ({})", report.after_capture),
        );
    }
    if report.lost_events > 0 {
        out.labelled(
            "lost:",
            &format!(
                "{} event(s) ({}): the picture may be incomplete",
                report.lost_events,
                report.why_lost()
            ),
        );
    }
}

fn dhcp(out: &mut Out, report: &Report) {
    let Some(d) = &report.dhcp else {
        return;
    };
    out.labelled("DHCP:", &dhcp_summary::messages(d));
    if let Some(server) = dhcp_summary::server(d) {
        out.labelled("", &server);
    }
}

/// What makes two packets' stories the same.
#[derive(PartialEq)]
struct Shape {
    way: crate::journey::correlate::Way,
    outcome: Outcome,
    reason: Option<String>,
    places: Vec<String>,
}

impl Shape {
    fn of(p: &PacketReport, t: &Timeline) -> Self {
        Self {
            way: p.way,
            outcome: p.verdict.verdict,
            reason: p.verdict.reason.clone(),
            places: t.steps.iter().map(Step::place).collect(),
        }
    }
}

/// How long the packet took from its first to its last event.
fn duration_ms(p: &PacketReport) -> f64 {
    p.hops
        .iter()
        .filter(|h| !h.inferred && h.benign.is_none())
        .map(|h| h.t_us)
        .fold(0.0, f64::max)
        / 1e3
}

fn header(p: &PacketReport, paint: &Paint) -> String {
    let way = super::json_name(&p.way);
    format!(
        "{}, {way}: {} in {:.1} ms",
        p.summary,
        paint.outcome(p.verdict.verdict),
        duration_ms(p)
    )
}

fn compact(out: &mut Out, p: &PacketReport, t: &Timeline, paint: &Paint) {
    let mut line = header(p, paint) + ", same hops";
    if p.verdict.verdict != Outcome::Delivered {
        line += " and cause";
    }
    if t.benign_total() > 0 {
        line += &format!(" ({})", benign_drops(t.benign_total()));
    }
    out.line(&line);
}

fn packet(out: &mut Out, p: &PacketReport, t: &Timeline, paint: &Paint) {
    out.line(&header(p, paint));
    for step in &t.steps {
        self::step(out, step, paint);
    }
    folded(out, t, paint);
    if p.verdict.verdict != Outcome::Delivered {
        if let Some(r) = &p.verdict.reason {
            out.line(&format!("{:>TIME$}  ✗ {r}", ""));
        }
    }
}

fn time(t_us: f64) -> String {
    format!("{:>+8.2} ms", t_us / 1e3)
}

/// Width of the time column, for the lines without a time.
const TIME: usize = 11;
/// Width of the place column (device and namespace, or bridge).
const PLACE: usize = 30;

fn benign_drops(n: usize) -> String {
    format!("{n} benign drop{}", if n == 1 { "" } else { "s" })
}

fn step(out: &mut Out, step: &Step, paint: &Paint) {
    match step {
        Step::Device {
            t_us,
            name,
            netns,
            hooks,
            vlan,
        } => {
            let place = match netns {
                Some(ns) => format!("{name} [{ns}]"),
                None => name.clone(),
            };
            let hooks: Vec<String> = hooks.iter().map(ToString::to_string).collect();
            out.line(&format!(
                "{}  {place:<PLACE$} {:<20} {}",
                time(*t_us),
                hooks.join(", "),
                fmt_vlan(*vlan)
            ));
        }
        Step::Bridge {
            t_us,
            bridge,
            upcall,
            actions,
            flow,
        } => {
            let mut what: Vec<String> = upcall.iter().map(|u| format!("upcall ({u})")).collect();
            if !actions.is_empty() {
                what.push(actions.join(", "));
            }
            let place = format!("{bridge} (ovs)");
            out.line(format!("{}  {place:<PLACE$} {}", time(*t_us), what.join(" → ")).trim_end());
            if let Some(f) = flow {
                let f = f.strip_prefix("cookie=0x0,").unwrap_or(f);
                out.line(&format!("{:>TIME$}  flow: {f}", ""));
            }
        }
        Step::Inferred { names, kind } => {
            let what = match kind {
                HopKind::OvsPatch => "patch ports, inferred",
                HopKind::OvsTunnel => "tunnel port, inferred",
                HopKind::DhcpServer => "sent it, inferred",
                HopKind::LogicalRouter | HopKind::LogicalSwitch => "OVN logical pipeline, inferred",
                _ => "inferred",
            };
            let line = format!("{:>TIME$}  {:<PLACE$} {what}", "", names.join(" → "));
            out.dim_line(&line, paint);
        }
        Step::Drop {
            t_us,
            at,
            netns,
            reason,
        } => {
            let place = match netns {
                Some(ns) => format!("{at} [{ns}]"),
                None => at.clone(),
            };
            out.line(&format!(
                "{}  {place:<PLACE$} DROPPED: {reason}",
                time(*t_us)
            ));
        }
    }
}

fn folded(out: &mut Out, t: &Timeline, paint: &Paint) {
    if t.benign_total() == 0 {
        return;
    }
    let kinds: Vec<String> = t.benign.iter().map(|(kind, n)| kind.count(*n)).collect();
    let line = format!(
        "{:>TIME$}  {} folded: {} (-v)",
        "",
        benign_drops(t.benign_total()),
        kinds.join(", ")
    );
    out.dim_line(&line, paint);
}
