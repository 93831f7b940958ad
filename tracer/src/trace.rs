//! `pathtrace trace`: resolve interfaces, load and attach the probes, print events until told
//! to stop, then detach everything.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use tokio::signal::unix::{signal, SignalKind};
use tracer_common::{filter_flags, Filter};

use crate::{
    capture::EventReader,
    cli::{InterfaceSpec, TraceArgs},
    journey::{Hop, Names},
    kernel::{btf::KernelBtf, privileges, tracefs},
    netns::NetnsTable,
    output::{json, text, Format},
    probes::{
        self, DropProbe, HookStatus, Interface, LoadedProbes, OvsLink, ProbeConfig, TcAttachment,
    },
    topology::sources::datapath,
};

pub fn build_filter(args: &TraceArgs) -> Filter {
    let mut filter = Filter {
        snapshot_len: args.snapshot_len,
        ..Filter::default()
    };
    if let Some(mac) = args.mac {
        filter.flags |= filter_flags::MAC;
        filter.mac = mac.0;
    }
    if args.dhcp {
        filter.flags |= filter_flags::DHCP;
    }
    if let Some(vid) = args.vlan {
        filter.flags |= filter_flags::VLAN;
        filter.vlan_id = vid;
    }
    if let Some(addr) = args.host {
        filter.flags |= filter_flags::ADDR;
        match addr {
            IpAddr::V4(a) => filter.addr[..4].copy_from_slice(&a.octets()),
            IpAddr::V6(a) => {
                filter.addr = a.octets();
                filter.addr_ipv6 = 1;
            }
        }
    }
    if let Some(proto) = args.proto {
        filter.flags |= filter_flags::PROTO;
        filter.ip_proto = proto;
    }
    if let Some(port) = args.port {
        filter.flags |= filter_flags::PORT;
        filter.port = port.to_be();
    }
    if !args.no_drops {
        filter.flags |= filter_flags::DROPS;
    }
    filter
}

fn resolve_interfaces(args: &TraceArgs, table: &mut NetnsTable) -> Result<Vec<Interface>> {
    let mut out: Vec<Interface> = Vec::new();
    for raw in &args.interfaces {
        let spec = InterfaceSpec::parse(raw).map_err(anyhow::Error::msg)?;
        let netns = match &spec.netns {
            Some(ns) => table.resolve(ns)?,
            None => table.own(),
        };
        let found = match &spec.name {
            Some(name) => vec![probes::tc::lookup(&netns, name)?],
            None => probes::tc::all_in(&netns)?,
        };
        for iface in found {
            if !out
                .iter()
                .any(|i| i.netns.ino == iface.netns.ino && i.ifindex == iface.ifindex)
            {
                out.push(iface);
            }
        }
    }
    anyhow::ensure!(!out.is_empty(), "no interface to attach to");
    Ok(out)
}

/// Everything attached for this run; dropping it detaches all of it.
struct Attached {
    tc: Vec<TcAttachment>,
    drops: Option<DropProbe>,
    ovs: Vec<OvsLink>,
}

impl Attached {
    fn detach(self) -> Result<()> {
        drop(self.drops);
        drop(self.ovs);
        probes::tc::detach_all(self.tc)
    }
}

pub fn run(args: TraceArgs) -> Result<()> {
    privileges::require_tracing_privileges()?;
    // While still single-threaded: the classic tracepoints need tracefs, which some hosts do
    // not mount; a private mount of our own leaves the host untouched.
    let tracefs = tracefs::ensure_mounted();
    let btf = KernelBtf::from_file(&args.btf)?;
    let mut table = NetnsTable::discover()?;
    let interfaces = resolve_interfaces(&args, &mut table)?;

    let config = ProbeConfig {
        filter: build_filter(&args),
        offsets: btf.offsets(),
        tracepoint_offsets: tracefs::offsets(),
        ring_buffer_bytes: args.ring_buffer_size,
    };
    let mut loaded = LoadedProbes::load(&config)?;
    let mut names = Names::new(table, btf.drop_reasons());
    names.set_ovs_actions(btf.ovs_actions());

    let mut attached = Attached {
        tc: Vec::new(),
        drops: None,
        ovs: Vec::new(),
    };
    let attach_start = Instant::now();
    attached.tc = loaded.attach_tc(&interfaces, args.tc_attach)?;
    for iface in &interfaces {
        names.add_interface(iface.netns.ino, iface.ifindex, &iface.name);
    }
    let mut hooks = vec![HookStatus::active("tc".into(), tc_summary(&attached.tc))];
    if args.no_drops {
        hooks.push(HookStatus::inactive(
            "kfree_skb".into(),
            "--no-drops".into(),
        ));
    } else {
        match loaded.attach_drops(args.drop_hook) {
            Ok(p) => {
                hooks.push(HookStatus::active(p.describe().into(), String::new()));
                attached.drops = Some(p);
            }
            Err(e) => hooks.push(HookStatus::inactive("kfree_skb".into(), format!("{e:#}"))),
        }
    }
    if args.no_ovs {
        hooks.push(HookStatus::inactive("ovs".into(), "--no-ovs".into()));
    } else {
        let (links, statuses) = loaded.attach_ovs();
        if !links.is_empty() {
            names.set_datapath_ports(datapath::ports());
        }
        attached.ovs = links;
        hooks.extend(statuses);
    }
    let attach_ms = attach_start.elapsed().as_secs_f64() * 1e3;
    if let Err(e) = &tracefs {
        tracing::info!("{e:#}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the event loop")?;
    let reader = {
        let _in_runtime = runtime.enter();
        EventReader::new(loaded.take_events()?, loaded.take_lost_counter()?)?
    };

    let modes: Vec<String> = attached
        .tc
        .iter()
        .map(|a| format!("{} ({:?})", a.iface, a.mode).to_lowercase())
        .collect();
    let active: Vec<&str> = hooks
        .iter()
        .skip(1)
        .filter(|h| h.active)
        .map(|h| h.hook.as_str())
        .collect();
    eprintln!(
        "pathtrace: attached to {} interface(s): {}; also: {} ({attach_ms:.0} ms). Ctrl-C to stop.",
        attached.tc.len(),
        modes.join(", "),
        if active.is_empty() {
            "nothing else".to_string()
        } else {
            active.join(", ")
        },
    );
    for h in hooks.iter().filter(|h| !h.active) {
        eprintln!("pathtrace: inactive: {}: {}", h.hook, h.detail);
    }

    let outcome = runtime.block_on(event_loop(reader, &mut names, &args));
    let detach_start = Instant::now();
    let detached = attached.detach();
    let detach_ms = detach_start.elapsed().as_secs_f64() * 1e3;
    let summary = outcome?;
    detached?;
    let iface_names: Vec<String> = interfaces.iter().map(ToString::to_string).collect();
    if args.output == Format::Json {
        println!(
            "{}",
            json::line(&json::Record::Summary {
                events: summary.events,
                lost_events: summary.lost,
                interfaces: iface_names,
                hooks,
                attach_ms,
                detach_ms,
            })
        );
    }
    eprintln!(
        "pathtrace: {} event(s), {} lost{}",
        summary.events,
        summary.lost,
        if summary.lost > 0 {
            " (ring buffer full: raise --ring-buffer-size or narrow the filter)"
        } else {
            ""
        }
    );
    Ok(())
}

/// "8 interfaces, tcx" (or "netlink", or both when the kernel mixed them).
fn tc_summary(tc: &[TcAttachment]) -> String {
    let mut modes: Vec<String> = tc
        .iter()
        .map(|a| format!("{:?}", a.mode).to_lowercase())
        .collect();
    modes.sort();
    modes.dedup();
    format!("{} interfaces, {}", tc.len(), modes.join("+"))
}

/// How long an event can wait in the ring buffer when traffic is too sparse to wake us.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

struct Summary {
    events: u64,
    lost: u64,
}

async fn event_loop(
    mut reader: EventReader,
    names: &mut Names,
    args: &TraceArgs,
) -> Result<Summary> {
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let deadline = args.timeout.map(Duration::from_secs_f64);
    let timeout = async {
        match deadline {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(timeout);
    let limit = args.count.unwrap_or(u64::MAX);
    let mut events = 0u64;
    let mut batch = Vec::new();
    // Loss is reported as it happens, not only at the end: an operator watching a busy host
    // must know the picture is incomplete while looking at it.
    let mut loss_check = tokio::time::interval(Duration::from_secs(1));
    // The kernel side wakes us only once a batch is waiting; this collects the rest.
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    let mut lost_reported = 0u64;
    let mut print = |batch: &mut Vec<_>, events: &mut u64| {
        for rec in batch.drain(..) {
            if *events >= limit {
                break;
            }
            let hop = Hop::from_record(&rec, names, args.output_snapshot);
            match args.output {
                Format::Text => println!("{}", text::hop_line(&hop)),
                Format::Json => println!("{}", json::line(&json::Record::Hop(&hop))),
            }
            *events += 1;
        }
    };
    while events < limit {
        tokio::select! {
            r = reader.read(&mut batch) => { r?; print(&mut batch, &mut events); }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
            _ = &mut timeout => break,
            _ = poll.tick() => { reader.drain(&mut batch); print(&mut batch, &mut events); }
            _ = loss_check.tick() => {
                let lost = reader.lost()?;
                if lost > lost_reported {
                    eprintln!("pathtrace: {lost} event(s) lost so far (ring buffer full)");
                    lost_reported = lost;
                }
            }
        }
    }
    reader.drain(&mut batch);
    print(&mut batch, &mut events);
    let lost = reader.lost()? + reader.malformed;
    Ok(Summary { events, lost })
}
