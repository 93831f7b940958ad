//! `pathtrace trace`: resolve interfaces, load and attach the probes, print events until told
//! to stop, then detach everything.

use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::signal::unix::{signal, SignalKind};
use tracer_common::{filter_flags, Filter};

use crate::{
    capture::EventReader,
    cli::{InterfaceSpec, TraceArgs},
    journey::{Hop, Names},
    kernel::{btf::KernelBtf, privileges},
    netns::NetnsTable,
    output::{json, text, Format},
    probes::{self, DropProbe, Interface, LoadedProbes, ProbeConfig, TcAttachment},
};

pub fn build_filter(args: &TraceArgs) -> Filter {
    let mut filter = Filter::default();
    if let Some(mac) = args.mac {
        filter.flags |= filter_flags::MAC;
        filter.mac = mac.0;
    }
    if args.dhcp {
        filter.flags |= filter_flags::DHCP;
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
}

impl Attached {
    fn detach(self) -> Result<()> {
        drop(self.drops);
        let mut first_error = None;
        for a in self.tc {
            if let Err(e) = a.detach() {
                tracing::warn!("{e:#}");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

pub fn run(args: TraceArgs) -> Result<()> {
    privileges::require_tracing_privileges()?;
    let btf = KernelBtf::from_file(&args.btf)?;
    let mut table = NetnsTable::discover()?;
    let interfaces = resolve_interfaces(&args, &mut table)?;

    let config = ProbeConfig {
        filter: build_filter(&args),
        offsets: btf.offsets(),
        ring_buffer_bytes: args.ring_buffer_size,
    };
    let mut loaded = LoadedProbes::load(&config)?;
    let mut names = Names::new(table, btf.drop_reasons());

    let mut attached = Attached {
        tc: Vec::new(),
        drops: None,
    };
    for iface in &interfaces {
        // On error, `attached` is dropped and what was attached so far is detached.
        attached.tc.push(loaded.attach_tc(iface, args.tc_attach)?);
        names.add_interface(iface.netns.ino, iface.ifindex, &iface.name);
    }
    if !args.no_drops {
        match loaded.attach_drops() {
            Ok(p) => attached.drops = Some(p),
            Err(e) => eprintln!("pathtrace: drop probe inactive: {e:#}"),
        }
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
    eprintln!(
        "pathtrace: attached to {} interface(s): {}; drops: {}. Ctrl-C to stop.",
        attached.tc.len(),
        modes.join(", "),
        if attached.drops.is_some() {
            "on"
        } else {
            "off"
        }
    );

    let outcome = runtime.block_on(event_loop(reader, &mut names, &args));
    let detached = attached.detach();
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
    let mut print = |batch: &mut Vec<_>, events: &mut u64| {
        for ev in batch.drain(..) {
            if *events >= limit {
                break;
            }
            let hop = Hop::from_event(&ev, names);
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
        }
    }
    reader.drain(&mut batch);
    print(&mut batch, &mut events);
    let lost = reader.lost()? + reader.malformed;
    Ok(Summary { events, lost })
}
