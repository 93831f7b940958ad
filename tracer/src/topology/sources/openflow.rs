//! OpenFlow tables, as `ovs-ofctl dump-flows` prints them, parsed into match fields and
//! actions so that VLAN rewrites, drops and outputs can be followed.
//!
//! ovs-ofctl is run once per bridge (not per port or namespace), against the bridge's
//! management socket next to the OVSDB socket, so it also works when OVS runs in a container.

use std::{path::Path, process::Command};

use anyhow::{bail, Context as _, Result};
use tracer_common::wire::vlan_tci;

use super::bounded;
use crate::topology::model::{Action, Flow};

/// Keys that describe the flow entry rather than what it matches.
const STAT_KEYS: &[&str] = &[
    "cookie",
    "duration",
    "table",
    "n_packets",
    "n_bytes",
    "idle_age",
    "hard_age",
    "idle_timeout",
    "hard_timeout",
    "importance",
    "priority",
    "reset_counts",
    "send_flow_rem",
    "check_overlap",
    "no_packet_counts",
    "no_byte_counts",
    "out_port",
    "out_group",
];

/// Parses the whole output of `ovs-ofctl dump-flows`.
pub fn parse_dump(text: &str) -> Result<Vec<Flow>> {
    let mut flows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        // Reply headers: "NXST_FLOW reply (xid=0x4):", "OFPST_FLOW reply (OF1.3) (xid=0x2):".
        if line.is_empty() || line.contains("reply (") || line.ends_with("reply:") {
            continue;
        }
        flows.push(parse_flow(line).with_context(|| format!("dump-flows line {}", n + 1))?);
    }
    Ok(flows)
}

pub fn parse_flow(line: &str) -> Result<Flow> {
    let (head, actions) = match line.split_once("actions=") {
        Some((h, a)) => (h.trim().trim_end_matches(',').trim(), a.trim()),
        None => bail!("no actions in flow '{line}'"),
    };
    let mut flow = Flow {
        table: 0,
        // OpenFlow's default priority.
        priority: 32768,
        n_packets: None,
        cookie: "0x0".into(),
        matches: Vec::new(),
        actions: parse_actions(actions)?,
        text: String::new(),
    };
    let mut shown = Vec::new();
    for field in split_top_level(head) {
        let field = field.trim();
        if field.is_empty() {
            continue;
        }
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        let number = |v: &str| -> Result<u64> {
            v.parse()
                .with_context(|| format!("bad number '{v}' for {key}"))
        };
        match key {
            "table" => flow.table = number(value)?.try_into().context("table out of range")?,
            "priority" => {
                flow.priority = number(value)?.try_into().context("priority out of range")?
            }
            "n_packets" => flow.n_packets = Some(number(value)?),
            "cookie" => flow.cookie = value.to_string(),
            k if STAT_KEYS.contains(&k) => {}
            k => {
                flow.matches.push((k.to_string(), value.to_string()));
            }
        }
        if !matches!(
            key,
            "duration" | "n_packets" | "n_bytes" | "idle_age" | "hard_age"
        ) {
            shown.push(field.to_string());
        }
    }
    flow.text = format!("{} actions={actions}", shown.join(","));
    Ok(flow)
}

fn parse_actions(text: &str) -> Result<Vec<Action>> {
    let mut out = Vec::new();
    for a in split_top_level(text) {
        let a = a.trim();
        if a.is_empty() {
            continue;
        }
        let (name, arg) = match a.split_once(':') {
            Some((n, v)) if !n.contains('(') => (n, Some(v)),
            _ => (a, None),
        };
        let vid = |v: &str| -> Result<u16> {
            let n = parse_int(v).with_context(|| format!("bad VLAN id in '{a}'"))?;
            // `set_field:4097->vlan_vid` carries the CFI/present bit: keep the VID.
            Ok((n as u16) & vlan_tci::VID_MASK)
        };
        out.push(match (name.to_ascii_lowercase().as_str(), arg) {
            ("normal", None) => Action::Normal,
            ("flood", None) => Action::Flood,
            ("all", None) => Action::All,
            ("local", None) => Action::Local,
            ("in_port", None) => Action::InPort,
            ("drop", None) => Action::Drop,
            ("strip_vlan" | "pop_vlan", None) => Action::StripVlan,
            ("mod_vlan_vid", Some(v)) => Action::SetVlan(vid(v)?),
            ("push_vlan", Some(v)) => Action::PushVlan(v.to_string()),
            ("output", Some(p)) => Action::Output(p.to_string()),
            ("goto_table", Some(t)) => Action::GotoTable(
                parse_int(t)
                    .ok()
                    .and_then(|t| u8::try_from(t).ok())
                    .with_context(|| format!("bad table in '{a}'"))?,
            ),
            ("resubmit", Some(p)) => Action::Resubmit {
                port: Some(p.to_string()),
                table: None,
            },
            ("controller", arg) => Action::Controller(arg.unwrap_or_default().to_string()),
            ("set_field", Some(v)) if v.ends_with("->vlan_vid") => {
                Action::SetVlan(vid(v.trim_end_matches("->vlan_vid"))?)
            }
            _ if a.starts_with("resubmit(") => parse_resubmit(a)?,
            _ if a.starts_with("CONTROLLER") || a.starts_with("controller(") => {
                Action::Controller(a.to_string())
            }
            // A bare port number is shorthand for output.
            _ if a.bytes().all(|c| c.is_ascii_digit()) => Action::Output(a.to_string()),
            _ => Action::Other(a.to_string()),
        });
    }
    if out.is_empty() {
        out.push(Action::Drop);
    }
    Ok(out)
}

fn parse_resubmit(a: &str) -> Result<Action> {
    let inner = a
        .strip_prefix("resubmit(")
        .and_then(|r| r.strip_suffix(')'))
        .with_context(|| format!("malformed '{a}'"))?;
    let mut parts = inner.splitn(3, ',');
    let port = parts.next().unwrap_or("").trim();
    let table = parts.next().unwrap_or("").trim();
    Ok(Action::Resubmit {
        port: (!port.is_empty()).then(|| port.to_string()),
        table: if table.is_empty() {
            None
        } else {
            Some(
                parse_int(table)
                    .ok()
                    .and_then(|t| u8::try_from(t).ok())
                    .with_context(|| format!("bad table in '{a}'"))?,
            )
        },
    })
}

pub fn parse_int(v: &str) -> Result<u64> {
    let v = v.trim();
    Ok(match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16)?,
        None => v.parse()?,
    })
}

/// Splits on commas that are not inside parentheses or brackets (`resubmit(,2)`,
/// `learn(table=1,...)`).
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Runs `ovs-ofctl dump-flows` against a bridge's management socket in `rundir`.
fn dump(rundir: &Path, bridge: &str) -> Result<Vec<Flow>> {
    let target = format!("unix:{}", rundir.join(format!("{bridge}.mgmt")).display());
    let mut cmd = Command::new("ovs-ofctl");
    // Port numbers, not names: they are what the flows are written against.
    cmd.args(["--no-names", "dump-flows", &target]);
    let out = bounded::output(cmd, bounded::OVS_DEADLINE)
        .context("ovs-ofctl (from openvswitch-common)")?;
    if !out.status.success() {
        bail!(
            "ovs-ofctl dump-flows {bridge}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parse_dump(&String::from_utf8_lossy(&out.stdout))
}

/// Dumps started by [`spawn_dumps`], one result per bridge when joined.
pub struct Dumps<'scope>(Vec<(usize, std::thread::ScopedJoinHandle<'scope, DumpResults>)>);

type DumpResults = Vec<Result<Vec<Flow>>>;

/// Bridges dumped at once at most: each dump is an `ovs-ofctl` process.
const PARALLEL_DUMPS: usize = 4;

/// Starts dumping the flows of every bridge in `bridges` on `scope`'s threads, a few at a time.
pub fn spawn_dumps<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    rundir: &'scope Path,
    bridges: &'scope [String],
) -> Dumps<'scope> {
    let per_thread = bridges.len().div_ceil(PARALLEL_DUMPS).max(1);
    Dumps(
        bridges
            .chunks(per_thread)
            .map(|chunk| {
                let handle = scope.spawn(move || chunk.iter().map(|b| dump(rundir, b)).collect());
                (chunk.len(), handle)
            })
            .collect(),
    )
}

impl Dumps<'_> {
    /// Waits for the dumps; one result per bridge, in the order given.
    pub fn join(self) -> Vec<Result<Vec<Flow>>> {
        self.0
            .into_iter()
            .flat_map(|(bridges, h)| {
                h.join().unwrap_or_else(|_| {
                    (0..bridges)
                        .map(|_| Err(anyhow::anyhow!("an ovs-ofctl dump panicked")))
                        .collect()
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_004_flows() {
        // Lines from the seed walkthrough (OVS 1.11 output).
        let dump = "NXST_FLOW reply (xid=0x4):\n cookie=0x0, duration=18669.401s, table=0, n_packets=857, n_bytes=163350, idle_age=25, priority=4,in_port=2,dl_vlan=1 actions=mod_vlan_vid:1000,NORMAL\n cookie=0x0, duration=165108.226s, table=0, n_packets=14, n_bytes=1000, idle_age=5343, hard_age=65534, priority=2,in_port=2 actions=drop\n";
        let flows = parse_dump(dump).unwrap();
        assert_eq!(flows.len(), 2);
        assert_eq!(flows[0].priority, 4);
        assert_eq!(flows[0].n_packets, Some(857));
        assert_eq!(flows[0].get("in_port"), Some("2"));
        assert_eq!(flows[0].get("dl_vlan"), Some("1"));
        assert_eq!(
            flows[0].actions,
            vec![Action::SetVlan(1000), Action::Normal]
        );
        assert_eq!(
            flows[0].text,
            "cookie=0x0,table=0,priority=4,in_port=2,dl_vlan=1 actions=mod_vlan_vid:1000,NORMAL"
        );
        assert_eq!(flows[1].actions, vec![Action::Drop]);
    }

    #[test]
    fn nested_actions() {
        let f = parse_flow(
            "priority=1,udp,tp_dst=67 actions=set_field:4097->vlan_vid,resubmit(,2),learn(table=1,NXM_OF_VLAN_TCI[0..11]),output:3",
        )
        .unwrap();
        assert_eq!(f.get("udp"), Some(""));
        assert_eq!(
            f.actions,
            vec![
                Action::SetVlan(1),
                Action::Resubmit {
                    port: None,
                    table: Some(2)
                },
                Action::Other("learn(table=1,NXM_OF_VLAN_TCI[0..11])".into()),
                Action::Output("3".into()),
            ]
        );
        assert_eq!(
            parse_flow("priority=0 actions=").unwrap().actions,
            vec![Action::Drop]
        );
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn real_ovs_ofctl_output() {
        for suffix in ["patch", "veth"] {
            let flows = parse_dump(&fixture(&format!("dump-flows-br-eth2-{suffix}.txt"))).unwrap();
            assert_eq!(flows.len(), 3);
            assert_eq!(flows[0].priority, 4);
            assert_eq!(flows[0].get("dl_vlan"), Some("1"));
            assert_eq!(
                flows[0].actions,
                vec![Action::SetVlan(1000), Action::Normal]
            );
            assert_eq!(flows[1].actions, vec![Action::Drop]);
            assert_eq!(flows[2].matches, vec![]);
            assert!(flows[2].n_packets.is_some());
            let flows = parse_dump(&fixture(&format!("dump-flows-br-int-{suffix}.txt"))).unwrap();
            assert_eq!(flows[0].get("dl_vlan"), Some("1000"));
            assert_eq!(flows[0].actions, vec![Action::SetVlan(1), Action::Normal]);
        }
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in [
            "priority=1,in_port=1",
            "priority=x actions=NORMAL",
            "priority=99999999 actions=NORMAL",
            "table=1 actions=mod_vlan_vid:zz",
            "actions=resubmit(,999)",
        ] {
            assert!(parse_flow(bad).is_err(), "{bad}");
        }
    }
}
