//! What a bridge's OpenFlow tables do to the packet we expect: a small `ofproto/trace` over
//! the dumped flows, enough to follow VLAN rewrites, drops and outputs. Flows that match on
//! fields we cannot know in advance (registers, conntrack state, ...) are skipped and named,
//! never guessed.

use std::fmt;

use tracer_common::wire::{bootp, ethertype, ip_proto, vlan_tci};

use crate::{
    mac::Mac,
    topology::{parse_openflow_int as parse_int, Action, Flow},
};

/// Why a flow was skipped or the result is uncertain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimNote {
    /// More nested resubmits than OVS itself allows.
    ResubmitDepth,
    /// More table lookups in all than OVS itself allows for one packet.
    ResubmitBudget,
    /// A flow matching on what the packet does not define yet (registers, conntrack state).
    SkippedUnknownFields {
        flow: String,
    },
    NoFlowInTable(u8),
    ActionNotModelled(String),
}

impl fmt::Display for SimNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ResubmitDepth => f.write_str("resubmit depth exceeded"),
            Self::ResubmitBudget => write!(f, "more than {MAX_LOOKUPS} table lookups"),
            Self::SkippedUnknownFields { flow } => write!(
                f,
                "skipped a flow that matches on fields unknown before the packet is seen: {flow}"
            ),
            Self::NoFlowInTable(id) => write!(f, "no flow matches in table {id}"),
            Self::ActionNotModelled(a) => write!(f, "action not modelled: {a}"),
        }
    }
}

/// The headers of the packet pathtrace expects, as a flow lookup sees them.
#[derive(Clone, Debug)]
pub struct Packet {
    pub src: Mac,
    /// `None`: unknown destination (only known for DHCP's broadcast).
    pub dst: Option<Mac>,
    /// VLAN id on the wire, `None` if untagged.
    pub vlan: Option<u16>,
    /// IPv4 UDP from 68 to 67 (a DHCP request).
    pub dhcp: bool,
    /// With `dhcp`: a server's reply instead, from 67 to 68 (its addresses are the server's
    /// to choose: unicast or broadcast).
    pub dhcp_reply: bool,
    /// An IPv4 packet, as seen (so no ARP and no IPv6); `false`: not known.
    pub ipv4: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// `NORMAL` (or FLOOD/ALL): L2 switching picks the port.
    Normal,
    Output(String),
    /// Explicit `drop`, an action list without output, or no matching flow.
    Drop,
    Controller,
}

#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Flows that matched, in the order they were applied.
    pub applied: Vec<Flow>,
    pub decisions: Vec<Decision>,
    /// VLAN after the actions.
    pub vlan: Option<u16>,
    pub notes: Vec<SimNote>,
    /// No flow matched in some table.
    pub table_miss: bool,
    /// Table lookups done, against [`MAX_LOOKUPS`].
    pub lookups: u32,
}

/// Runs table 0 (and the tables it resubmits to) for a packet entering on `in_port`.
pub fn run(flows: &[Flow], in_port: &str, pkt: &Packet) -> Outcome {
    let mut out = Outcome {
        vlan: pkt.vlan,
        ..Default::default()
    };
    let mut pkt = pkt.clone();
    table(flows, 0, in_port, &mut pkt, &mut out, 0);
    out.vlan = pkt.vlan;
    if out.decisions.is_empty() {
        out.decisions.push(Decision::Drop);
    }
    out
}

/// OVS's own limits on one packet's translation (`MAX_DEPTH`, `MAX_RESUBMITS` in
/// ofproto-dpif-xlate.c): nesting, and table lookups in all. Flows that resubmit twice per
/// table would otherwise take 2^depth lookups.
const MAX_DEPTH: u32 = 64;
const MAX_LOOKUPS: u32 = 4096;

fn table(flows: &[Flow], id: u8, in_port: &str, pkt: &mut Packet, out: &mut Outcome, depth: u32) {
    out.lookups += 1;
    if out.lookups > MAX_LOOKUPS {
        if !out.notes.contains(&SimNote::ResubmitBudget) {
            out.notes.push(SimNote::ResubmitBudget);
        }
        return;
    }
    // A loop in the flows must not hang us.
    if depth > MAX_DEPTH {
        out.notes.push(SimNote::ResubmitDepth);
        return;
    }
    let mut candidates: Vec<&Flow> = flows.iter().filter(|f| f.table == id).collect();
    candidates.sort_by_key(|f| std::cmp::Reverse(f.priority));
    let mut hit = None;
    for f in candidates {
        match matches(f, in_port, pkt) {
            Some(true) => {
                hit = Some(f);
                break;
            }
            Some(false) => {}
            None => out.notes.push(SimNote::SkippedUnknownFields {
                flow: f.text.clone(),
            }),
        }
    }
    let Some(flow) = hit else {
        out.table_miss = true;
        out.notes.push(SimNote::NoFlowInTable(id));
        return;
    };
    out.applied.push(flow.clone());
    for a in &flow.actions {
        if out.lookups > MAX_LOOKUPS {
            return;
        }
        match a {
            Action::SetVlan(v) => pkt.vlan = Some(*v),
            Action::StripVlan => pkt.vlan = None,
            Action::PushVlan(_) => pkt.vlan = Some(pkt.vlan.unwrap_or(0)),
            Action::Normal | Action::Flood | Action::All => out.decisions.push(Decision::Normal),
            Action::Output(p) => out.decisions.push(Decision::Output(p.clone())),
            Action::Local => out.decisions.push(Decision::Output("LOCAL".into())),
            Action::InPort => out.decisions.push(Decision::Output(in_port.into())),
            Action::Drop => {}
            Action::Controller(_) => out.decisions.push(Decision::Controller),
            Action::Resubmit { port, table: t } => {
                let port = port.as_deref().unwrap_or(in_port).to_string();
                table(flows, t.unwrap_or(id), &port, pkt, out, depth + 1);
            }
            Action::GotoTable(t) => table(flows, *t, in_port, pkt, out, depth + 1),
            Action::Other(o) => out.notes.push(SimNote::ActionNotModelled(o.clone())),
        }
    }
}

/// `dl_vlan=0xffff`: OpenFlow's "no VLAN tag".
const OFP_VLAN_NONE: u64 = 0xffff;

/// Some(true/false) when the flow can be evaluated, None when it matches on something the
/// expected packet does not define.
pub fn matches(f: &Flow, in_port: &str, pkt: &Packet) -> Option<bool> {
    let tci = pkt.vlan.map_or(0u64, |v| u64::from(vlan_tci::PRESENT | v));
    for (k, v) in &f.matches {
        let ok = match k.as_str() {
            "in_port" => v == in_port,
            "dl_vlan" => match parse_int(v).ok()? {
                OFP_VLAN_NONE => pkt.vlan.is_none(),
                n => pkt.vlan == Some(n as u16),
            },
            "vlan_tci" => {
                let (value, mask) = masked(v)?;
                tci & mask == value & mask
            }
            "dl_src" | "eth_src" => mac_matches(v, Some(pkt.src))?,
            "dl_dst" | "eth_dst" => mac_matches(v, pkt.dst)?,
            "dl_type" | "eth_type" => match parse_int(v).ok()? {
                t if t == u64::from(ethertype::IPV4) => pkt.dhcp,
                _ if pkt.dhcp => false,
                _ => return None,
            },
            "ip" | "udp" if pkt.dhcp => true,
            "tcp" | "arp" | "icmp" | "ipv6" | "tcp6" | "udp6" | "icmp6" | "sctp" | "rarp"
                if pkt.dhcp =>
            {
                false
            }
            "nw_proto" | "ip_proto" if pkt.dhcp => parse_int(v).ok()? == u64::from(ip_proto::UDP),
            "tp_dst" | "udp_dst" if pkt.dhcp => parse_int(v).ok()? == u64::from(dhcp_ports(pkt).1),
            "tp_src" | "udp_src" if pkt.dhcp => parse_int(v).ok()? == u64::from(dhcp_ports(pkt).0),
            "nw_src" | "ip_src" if pkt.dhcp && !pkt.dhcp_reply => {
                v == "0.0.0.0" || v.starts_with("0.0.0.0/")
            }
            "nw_dst" | "ip_dst" if pkt.dhcp && !pkt.dhcp_reply => v == "255.255.255.255",
            "ip" if pkt.ipv4 => true,
            "arp" | "rarp" | "ipv6" | "tcp6" | "udp6" | "icmp6" if pkt.ipv4 => false,
            _ => return None,
        };
        if !ok {
            return Some(false);
        }
    }
    Some(true)
}

/// A DHCP packet's source and destination ports.
fn dhcp_ports(pkt: &Packet) -> (u16, u16) {
    if pkt.dhcp_reply {
        (bootp::SERVER_PORT, bootp::CLIENT_PORT)
    } else {
        (bootp::CLIENT_PORT, bootp::SERVER_PORT)
    }
}

fn masked(v: &str) -> Option<(u64, u64)> {
    match v.split_once('/') {
        Some((a, m)) => Some((parse_int(a).ok()?, parse_int(m).ok()?)),
        None => Some((parse_int(v).ok()?, u64::MAX)),
    }
}

fn mac_matches(v: &str, mac: Option<Mac>) -> Option<bool> {
    let mac = mac?;
    let (value, mask) = match v.split_once('/') {
        Some((a, m)) => (a.parse::<Mac>().ok()?, m.parse::<Mac>().ok()?),
        None => (v.parse::<Mac>().ok()?, Mac([0xff; 6])),
    };
    Some((0..6).all(|i| mac.0[i] & mask.0[i] == value.0[i] & mask.0[i]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::sources::openflow::parse_dump;

    fn dhcp(vlan: Option<u16>) -> Packet {
        Packet {
            src: "fa:16:3e:fe:c7:87".parse().unwrap(),
            dst: Some(Mac([0xff; 6])),
            vlan,
            dhcp: true,
            dhcp_reply: false,
            ipv4: false,
        }
    }

    /// A packet seen to be IPv4 is no ARP: OVN's ARP drop flows (counting other traffic) are no
    /// evidence against it; what it does not say stays undecided.
    #[test]
    fn an_ipv4_packet_matches_no_arp_flow() {
        let flows = parse_dump(
            "priority=85,arp,metadata=0x2 actions=drop\npriority=80,ip,metadata=0x2 actions=drop\n",
        )
        .unwrap();
        let icmp = Packet {
            dhcp: false,
            ipv4: true,
            ..dhcp(None)
        };
        assert_eq!(matches(&flows[0], "", &icmp), Some(false));
        assert_eq!(matches(&flows[1], "", &icmp), None, "metadata: undecided");
        let unknown = Packet {
            ipv4: false,
            ..icmp
        };
        assert_eq!(matches(&flows[0], "", &unknown), None);
    }

    /// A server's reply goes from port 67 to 68: a flow on its source port matches it, not a
    /// request, and the addresses it is sent with are the server's (not a request's).
    #[test]
    fn a_dhcp_reply_matches_by_its_own_ports() {
        let flows = parse_dump("priority=10,in_port=5,udp,tp_src=67 actions=drop\n").unwrap();
        let reply = Packet {
            dhcp_reply: true,
            ..dhcp(Some(1000))
        };
        assert_eq!(matches(&flows[0], "5", &reply), Some(true));
        assert_eq!(matches(&flows[0], "5", &dhcp(Some(1000))), Some(false));
        let to_broadcast =
            parse_dump("priority=10,udp,nw_dst=255.255.255.255 actions=drop\n").unwrap();
        assert_eq!(matches(&to_broadcast[0], "5", &reply), None);
    }

    #[test]
    fn neutron_br_eth2_rewrites_vlan_1_to_1000() {
        let flows = parse_dump(
            "priority=4,in_port=2,dl_vlan=1 actions=mod_vlan_vid:1000,NORMAL\n\
             priority=2,in_port=2 actions=drop\n\
             priority=1 actions=NORMAL\n",
        )
        .unwrap();
        let o = run(&flows, "2", &dhcp(Some(1)));
        assert_eq!(o.vlan, Some(1000));
        assert_eq!(o.decisions, vec![Decision::Normal]);
        assert_eq!(o.applied[0].priority, 4);
        // Without the local VLAN the packet hits the drop flow.
        let o = run(&flows, "2", &dhcp(None));
        assert_eq!(o.decisions, vec![Decision::Drop]);
        assert_eq!(o.applied[0].priority, 2);
        // From another port: plain NORMAL.
        let o = run(&flows, "1", &dhcp(Some(1000)));
        assert_eq!(o.vlan, Some(1000));
        assert_eq!(o.applied[0].priority, 1);
    }

    #[test]
    fn resubmit_tables_and_table_miss() {
        let flows = parse_dump(
            "table=0,priority=1 actions=resubmit(,1)\n\
             table=1,priority=5,vlan_tci=0x0000/0x1fff actions=mod_vlan_vid:7,output:3\n",
        )
        .unwrap();
        let o = run(&flows, "1", &dhcp(None));
        assert_eq!(o.vlan, Some(7));
        assert_eq!(o.decisions, vec![Decision::Output("3".into())]);
        let o = run(&flows, "1", &dhcp(Some(5)));
        assert!(o.table_miss);
        assert_eq!(o.decisions, vec![Decision::Drop]);
    }

    #[test]
    fn resubmits_that_fan_out_stop_at_the_lookup_budget() {
        // Every table resubmits twice to the next: 2^40 lookups without a budget.
        let text: String = (0..40)
            .map(|t| {
                format!(
                    "table={t},priority=1 actions=resubmit(,{n}),resubmit(,{n})\n",
                    n = t + 1
                )
            })
            .collect();
        let flows = parse_dump(&text).unwrap();
        let started = std::time::Instant::now();
        let o = run(&flows, "1", &dhcp(None));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(o.lookups, MAX_LOOKUPS + 1);
        assert!(o.notes.contains(&SimNote::ResubmitBudget), "{:?}", o.notes);
    }

    #[test]
    fn unknown_fields_are_skipped_not_guessed() {
        let flows =
            parse_dump("priority=9,reg0=1 actions=drop\npriority=1 actions=NORMAL\n").unwrap();
        let o = run(&flows, "1", &dhcp(None));
        assert_eq!(o.decisions, vec![Decision::Normal]);
        assert!(o.notes[0].to_string().contains("reg0=1"), "{:?}", o.notes);
    }
}
