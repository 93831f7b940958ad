//! `pathtrace trace`: resolve interfaces, load and attach the probes, print events until told
//! to stop, then detach everything.

use std::{net::IpAddr, time::Duration};

use anyhow::Result;
use tracer_common::{filter_flags, Filter};

use crate::{
    capture::session::{self, Control, Session, SessionOptions},
    cli::TraceArgs,
    journey::Hop,
    kernel::{privileges, tracefs},
    netns::NetnsTable,
    output::{json, text, Format},
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

/// `trace`: with `--interface`, the event stream; with only `--mac`, the journey along the
/// expected path. Returns the exit status.
pub fn run(args: TraceArgs) -> Result<u8> {
    if args.interfaces.is_empty() {
        let mac = args.mac.expect("clap requires --mac without --interface");
        return crate::follow::run(crate::follow::Request::from_trace(mac, &args));
    }
    stream(args).map(|()| 0)
}

fn stream(args: TraceArgs) -> Result<()> {
    privileges::require_tracing_privileges()?;
    // While still single-threaded: the classic tracepoints need tracefs, which some hosts do
    // not mount; a private mount of our own leaves the host untouched.
    let tracefs = tracefs::ensure_mounted();
    let mut table = NetnsTable::discover()?;
    let interfaces = session::resolve_interfaces(&args.interfaces, &mut table)?;
    let mut session = Session::start(
        SessionOptions {
            interfaces,
            filter: build_filter(&args),
            btf: &args.btf,
            tc_attach: args.tc_attach,
            drops: (!args.no_drops).then_some(args.drop_hook),
            ovs: !args.no_ovs,
            ring_buffer_bytes: args.ring_buffer_size,
        },
        table,
    )?;
    if let Err(e) = &tracefs {
        tracing::info!("{e:#}");
    }
    session.announce();

    let limit = args.count.unwrap_or(u64::MAX);
    let mut events = 0u64;
    let mut lost_reported = 0u64;
    let timeout = args.timeout.map(Duration::from_secs_f64);
    let outcome = session.pump(
        timeout,
        // Loss is reported as it happens, not only at the end: an operator watching a busy
        // host must know the picture is incomplete while looking at it.
        Duration::from_secs(1),
        |batch, names| {
            for rec in batch.drain(..) {
                if events >= limit {
                    break;
                }
                let hop = Hop::from_record(&rec, names, args.output_snapshot);
                match args.output {
                    Format::Text => println!("{}", text::hop_line(&hop)),
                    Format::Json => println!("{}", json::line(&json::Record::Hop(&hop))),
                }
                events += 1;
            }
            if events >= limit {
                Control::Stop
            } else {
                Control::Continue
            }
        },
        |lost| {
            if lost > lost_reported {
                eprintln!("pathtrace: {lost} event(s) lost so far (ring buffer full)");
                lost_reported = lost;
            }
        },
    );
    let hooks = session.hooks.clone();
    let iface_names: Vec<String> = session.interfaces.iter().map(ToString::to_string).collect();
    let attach_ms = session.attach_ms;
    let detached = session.finish();
    let (_, lost) = outcome?;
    let detach_ms = detached?;
    if args.output == Format::Json {
        println!(
            "{}",
            json::line(&json::Record::Summary {
                events,
                lost_events: lost,
                interfaces: iface_names,
                hooks,
                attach_ms,
                detach_ms,
            })
        );
    }
    eprintln!(
        "pathtrace: {events} event(s), {lost} lost{}",
        if lost > 0 {
            " (ring buffer full: raise --ring-buffer-size or narrow the filter)"
        } else {
            ""
        }
    );
    Ok(())
}
