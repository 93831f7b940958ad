//! The journey views on the recordings of real runs: the default view reads as an exchange
//! (short, in time order, every datapath action under a bridge of the path, benign drops
//! folded, the cause in view), fits the terminal, and `-v` is the table it always was.

use super::{
    journey_text,
    journey_view::{self, Style},
    timeline::{self, Step},
};
use crate::{
    journey::{
        mode::Mode,
        recordings::{judged, ALL, BEFORE_TYPED_VERDICT},
        verdict::{Cause, Outcome},
    },
    path::HopKind,
};

fn view(name: &str, width: usize) -> String {
    let (report, expected) = judged(name);
    journey_view::render(
        &report,
        &expected,
        Style {
            colour: false,
            width,
        },
    )
}

#[test]
fn a_delivered_dhcp_exchange_fits_one_screen() {
    let mut delivered = 0;
    for name in ALL {
        let (report, _) = judged(name);
        if report.mode != Mode::Dhcp || report.verdict != Outcome::Delivered {
            continue;
        }
        delivered += 1;
        let text = view(name, 100);
        let lines = text.lines().count();
        assert!(lines <= 40, "{name}: {lines} lines\n{text}");
        assert!(
            text.lines().next().unwrap().ends_with("DELIVERED"),
            "{text}"
        );
    }
    assert!(delivered >= 2, "recordings of delivered exchanges");
}

#[test]
fn every_packet_reads_in_time_order() {
    for name in ALL {
        let (report, _) = judged(name);
        for p in &report.packets {
            let times: Vec<f64> = timeline::build(&p.hops)
                .steps
                .iter()
                .filter_map(Step::t_us)
                .collect();
            assert!(
                times.windows(2).all(|w| w[0] <= w[1]),
                "{name}: {}: {times:?}",
                p.summary
            );
        }
    }
}

#[test]
fn every_datapath_action_is_under_a_bridge_the_path_crosses() {
    for name in ALL {
        let (report, expected) = judged(name);
        let bridges: Vec<&str> = expected
            .hops
            .iter()
            .filter(|h| h.kind == HopKind::OvsBridge)
            .map(|h| h.name.as_str())
            .collect();
        for p in &report.packets {
            for h in p
                .hops
                .iter()
                .filter(|h| h.ovs.is_some() && h.ovs.as_ref().unwrap().action.is_some())
            {
                let a = h
                    .attributed
                    .as_ref()
                    .unwrap_or_else(|| panic!("{name}: {}: unattributed {h:?}", p.summary));
                assert!(bridges.contains(&a.bridge.as_str()), "{name}: {}", a.bridge);
            }
        }
    }
}

#[test]
fn benign_drops_are_folded_and_the_cause_stays_in_view() {
    for name in ALL {
        let (report, _) = judged(name);
        let text = view(name, 10_000);
        for p in &report.packets {
            let t = timeline::build(&p.hops);
            let unfolded = t.steps.iter().any(|s| matches!(s, Step::Drop { .. }));
            if p.verdict.verdict == Outcome::Delivered {
                assert!(
                    !unfolded,
                    "{name}: {}: a drop of a delivered packet",
                    p.summary
                );
            }
        }
        if report.verdict == Outcome::Delivered {
            continue;
        }
        // The cause, in words, right under the verdict.
        let reason = report.reason.as_deref().unwrap();
        let head: String = text.lines().take(4).collect::<Vec<_>>().join("\n");
        assert!(head.contains(reason), "{name}: {reason:?} not in\n{head}");
        // A drop that explains the stop is a step of its own, never folded.
        if let Some(Cause::KernelDrop { reason, ifname, .. }) = &report.cause {
            let r = reason.as_ref().unwrap().to_string();
            assert!(
                text.lines()
                    .any(|l| l.contains(ifname.as_str()) && l.contains(&format!("DROPPED: {r}"))),
                "{name}: the {r} drop at {ifname} is not shown\n{text}"
            );
        }
    }
}

#[test]
fn no_line_is_wider_than_the_terminal() {
    for name in ALL {
        for width in [60, 80, 100, 132] {
            for line in view(name, width).lines() {
                assert!(line.chars().count() <= width, "{name} at {width}: {line:?}");
            }
        }
    }
}

#[test]
fn the_verbose_view_is_the_table_it_always_was() {
    for name in BEFORE_TYPED_VERDICT {
        let (report, expected) = judged(name);
        let file = format!("{}/fixtures/reports/{name}.txt", env!("CARGO_MANIFEST_DIR"));
        let before = std::fs::read_to_string(file).unwrap();
        assert_eq!(
            journey_text::render(&report, &expected, false),
            before,
            "{name}"
        );
    }
}
