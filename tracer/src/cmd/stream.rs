//! `pathtrace trace -i IFACE...`: resolve the interfaces, load and attach the probes, print
//! every matching packet at every hop until told to stop, then detach everything.

use std::{
    io::{BufWriter, Write as _},
    time::{Duration, Instant},
};

use anyhow::Result;

use crate::{
    capture::{
        session::{Control, OvsHooks, Session, SessionOptions},
        Losses,
    },
    cli::TraceArgs,
    clock,
    event::{HookStatus, Hop, Timings, Vanished},
    kernel::{privileges, tracefs},
    netns::NetnsTable,
    output::{json, text, Format},
    probes::{resolve_interfaces, Interface},
};

pub fn run(args: &TraceArgs) -> Result<u8> {
    privileges::require_tracing_privileges()?;
    // While still single-threaded: the classic tracepoints need tracefs, which some hosts do
    // not mount; a private mount of our own leaves the host untouched.
    let tracefs = tracefs::ensure_mounted();
    let discovery = Instant::now();
    let mut table = NetnsTable::discover()?;
    let interfaces = resolve_interfaces(&args.interfaces, &mut table)?;
    let discovery_ms = clock::ms_since(discovery);
    let mut session = Session::start(session_options(args, interfaces), table)?;
    session.timings.discovery_ms = discovery_ms;
    if let Err(e) = &tracefs {
        tracing::info!("{e:#}");
    }
    session.announce();

    let limit = args.count.unwrap_or(u64::MAX);
    let mut events = 0u64;
    let mut lost_reported = 0u64;
    let mut vanished = Vec::new();
    // Both the record handler and the ticker (a vanished hop) write to it.
    let out = std::cell::RefCell::new(Printer::new());
    let outcome = session.pump(
        args.timeout,
        // Loss is reported as it happens, not only at the end: an operator watching a busy
        // host must know the picture is incomplete while looking at it.
        Duration::from_secs(1),
        |batch, names| {
            for rec in batch.drain(..).take((limit - events) as usize) {
                let snapshot = args.output_snapshot.then_some(rec.snapshot.as_slice());
                let hop = Hop::decode(&rec.event, snapshot, names);
                let written = match args.output {
                    Format::Text => out.borrow_mut().line(&text::hop_line(&hop)),
                    Format::Json => out.borrow_mut().json(&json::Record::Hop(&hop)),
                };
                if !written {
                    // Nobody reads any more (`| head`): stop, and detach as on Ctrl-C.
                    return Control::Stop;
                }
                events += 1;
            }
            // One write per batch, not per line: the reader sees each batch within a poll period.
            if !out.borrow_mut().flush() || events >= limit {
                Control::Stop
            } else {
                Control::Continue
            }
        },
        |tick| {
            if tick.lost > lost_reported {
                eprintln!(
                    "pathtrace: {} event(s) lost so far (ring buffer full)",
                    tick.lost
                );
                lost_reported = tick.lost;
            }
            for v in tick.vanished {
                eprintln!("pathtrace: warning: {v}");
                if args.output == Format::Json {
                    out.borrow_mut().json(&json::Record::Vanished(&v));
                }
                vanished.push(v);
            }
        },
    );
    let summary = Summary {
        hooks: session.hooks.clone(),
        interfaces: session.interfaces.iter().map(ToString::to_string).collect(),
        attach_ms: session.attach_ms,
        timings: session.timings.clone(),
        vanished,
    };
    // A detach that fails (an interface gone with its namespace) is a warning: what was seen
    // stands, and the rest was detached.
    let detach_ms = session.finish().unwrap_or_else(|e| {
        eprintln!("pathtrace: warning: cleanup: {e:#}");
        f64::NAN
    });
    let (_, losses) = outcome?;
    let mut out = out.into_inner();
    summary.print(args, &mut out, events, losses, detach_ms);
    out.result().map(|()| 0)
}

fn session_options(args: &TraceArgs, interfaces: Vec<Interface>) -> SessionOptions<'_> {
    let mut filter = args.filter_spec();
    if !args.output_snapshot {
        // Nothing would show the bytes: copying them would only cost every matching packet.
        filter.snapshot_len = 0;
    }
    SessionOptions {
        interfaces,
        filter,
        btf: &args.btf,
        tc_attach: args.tc_attach,
        drops: (!args.no_drops).then_some(args.drop_hook),
        ovs: if args.no_ovs {
            OvsHooks::Skip("--no-ovs")
        } else {
            OvsHooks::Attach
        },
        ring_buffer_bytes: args.ring_buffer_size,
    }
}

/// Standard output, buffered (stdout alone writes every line with its own system call), that
/// reports a write error once instead of panicking the way `println!` does while probes are
/// attached.
struct Printer {
    out: BufWriter<std::io::StdoutLock<'static>>,
    error: Option<std::io::Error>,
}

/// Output buffered between two flushes: a batch's lines.
const OUTPUT_BUFFER: usize = 256 * 1024;

impl Printer {
    fn new() -> Self {
        Self {
            out: BufWriter::with_capacity(OUTPUT_BUFFER, std::io::stdout().lock()),
            error: None,
        }
    }

    /// Writes one line; false once output is no longer possible.
    fn line(&mut self, line: &str) -> bool {
        self.write(|out| writeln!(out, "{line}"))
    }

    /// Writes one JSON record and its newline, serialized straight into the buffer.
    fn json(&mut self, record: &json::Record) -> bool {
        self.write(|out| {
            json::write(&mut *out, record)?;
            out.write_all(b"\n")
        })
    }

    /// Hands what is buffered to stdout; false once output is no longer possible.
    fn flush(&mut self) -> bool {
        self.write(|out| out.flush())
    }

    fn write(
        &mut self,
        f: impl FnOnce(&mut BufWriter<std::io::StdoutLock<'static>>) -> std::io::Result<()>,
    ) -> bool {
        if self.error.is_none() {
            if let Err(e) = f(&mut self.out) {
                self.error = Some(e);
            }
        }
        self.error.is_none()
    }

    /// A reader that went away (`| head`) is not an error; any other write error is.
    fn result(mut self) -> Result<()> {
        let flushed = self.out.flush();
        match self.error.take().map_or(flushed, Err) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(anyhow::Error::new(e).context("cannot write to stdout"))
            }
            _ => Ok(()),
        }
    }
}

/// What the session was, for the closing lines.
struct Summary {
    hooks: Vec<HookStatus>,
    interfaces: Vec<String>,
    attach_ms: f64,
    timings: Timings,
    /// Traced interfaces that went away during the trace.
    vanished: Vec<Vanished>,
}

impl Summary {
    fn print(
        self,
        args: &TraceArgs,
        out: &mut Printer,
        events: u64,
        losses: Losses,
        detach_ms: f64,
    ) {
        if args.output == Format::Json {
            out.json(&json::Record::Summary {
                events,
                lost_events: losses.total(),
                missed_runs: losses.missed_runs,
                interfaces: self.interfaces,
                vanished: self.vanished,
                hooks: self.hooks,
                attach_ms: self.attach_ms,
                detach_ms,
                timings: self.timings,
            });
        }
        let mut why = Vec::new();
        if losses.ring_full > 0 {
            why.push(format!(
                "{} with the ring buffer full: raise --ring-buffer-size or narrow the filter",
                losses.ring_full
            ));
        }
        if let Some(missed) = losses.missed_runs.filter(|&m| m > 0) {
            why.push(format!(
                "{missed} probe runs skipped by the kernel: another BPF program was running on that CPU"
            ));
        }
        if losses.malformed > 0 {
            why.push(format!("{} malformed", losses.malformed));
        }
        eprintln!(
            "pathtrace: {events} event(s), {} lost{}",
            losses.total(),
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join("; "))
            }
        );
    }
}
