//! One capture session: load the probes, attach them (TC on the given interfaces, drops, OVS),
//! pump events until the caller or a signal says stop, and detach everything. Shared by
//! `pathtrace trace` (an event stream) and the journey commands (`--dhcp`, `trace --mac`).

use std::{
    path::Path,
    time::{Duration, Instant},
};

use super::{names::Names, presence::Presence, EventReader, Record};
use crate::{
    event::{HookStatus, Vanished},
    interrupt,
    kernel::{btf::KernelBtf, tracefs},
    netns::NetnsTable,
    probes::{
        self, AttachMode, DropHook, DropProbe, FilterSpec, Interface, LoadedProbes, OvsLink,
        ProbeConfig, TcAttachment,
    },
    topology::sources::datapath,
};
use anyhow::{Context as _, Result};

pub struct SessionOptions<'a> {
    pub interfaces: Vec<Interface>,
    pub filter: FilterSpec,
    pub btf: &'a Path,
    pub tc_attach: AttachMode,
    /// `None`: no drop probe.
    pub drops: Option<DropHook>,
    pub ovs: bool,
    pub ring_buffer_bytes: u32,
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

pub struct Session {
    pub names: Names,
    pub hooks: Vec<HookStatus>,
    pub interfaces: Vec<Interface>,
    pub attach_ms: f64,
    /// CLOCK_MONOTONIC (the probes' clock) once everything was attached: a packet seen
    /// earlier may have passed hooks that were not there yet.
    pub attached_at_ns: u64,
    attached: Attached,
    reader: EventReader,
    presence: Presence,
    runtime: tokio::runtime::Runtime,
    /// Kept alive: its drop would unload the programs under the attachments.
    loaded: LoadedProbes,
}

/// What a capture could not see, by why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Losses {
    /// Events the kernel could not deliver: the ring buffer was full.
    pub ring_full: u64,
    /// Records that did not decode (should stay 0).
    pub malformed: u64,
    /// Runs of our probes the kernel skipped (another BPF program was running on that CPU):
    /// packets that passed a hook unseen. `None`: the kernel does not say (before 5.12).
    pub missed_runs: Option<u64>,
}

impl Losses {
    pub fn total(&self) -> u64 {
        self.ring_full + self.malformed + self.missed_runs.unwrap_or(0)
    }
}

/// What the status tick reports.
pub struct Tick {
    /// Events lost so far with the ring buffer full.
    pub lost: u64,
    /// Traced interfaces found gone since the last tick.
    pub vanished: Vec<Vanished>,
}

/// What the caller's record handler wants next.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

/// Why the pump stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopCause {
    Caller,
    Signal,
    Timeout,
}

/// How often the ring buffer is drained (the kernel side never wakes us): the longest an event
/// waits, and the span of traffic the ring must hold (4 MiB: 10 ms of ~400 MB/s of records).
const POLL_INTERVAL: Duration = Duration::from_millis(10);

impl Session {
    /// Loads and attaches. `tracefs` must have been ensured while the process was still
    /// single-threaded (see [`tracefs::ensure_mounted`]). On error nothing stays attached.
    pub fn start(opts: SessionOptions<'_>, table: NetnsTable) -> Result<Self> {
        let btf = KernelBtf::from_file(opts.btf)?;
        let config = ProbeConfig {
            filter: opts.filter.to_kernel(),
            offsets: btf.offsets(),
            tracepoint_offsets: tracefs::offsets(),
            ring_buffer_bytes: opts.ring_buffer_bytes,
        };
        let mut loaded = LoadedProbes::load(&config)?;
        let mut names = Names::new(table, btf.drop_reasons());
        names.set_ovs_actions(btf.ovs_actions());
        let attach_start = Instant::now();
        // From the first attachment on, a signal must let the guards detach.
        interrupt::arm();
        let mut attached = Attached {
            tc: loaded.attach_tc(&opts.interfaces, opts.tc_attach)?,
            drops: None,
            ovs: Vec::new(),
        };
        for iface in &opts.interfaces {
            names.add_interface(iface.netns.ino, iface.ifindex, &iface.name);
        }
        let mut hooks = vec![HookStatus::active("tc".into(), tc_summary(&attached.tc))];
        match opts.drops {
            None => hooks.push(HookStatus::inactive(
                "kfree_skb".into(),
                "--no-drops".into(),
            )),
            Some(mode) => match loaded.attach_drops(mode) {
                Ok(p) => {
                    hooks.push(HookStatus::active(p.describe().into(), String::new()));
                    attached.drops = Some(p);
                }
                Err(e) => hooks.push(HookStatus::inactive("kfree_skb".into(), format!("{e:#}"))),
            },
        }
        if opts.ovs {
            let (links, statuses) = loaded.attach_ovs();
            if !links.is_empty() {
                names.set_datapath_ports(datapath::ports());
            }
            attached.ovs = links;
            hooks.extend(statuses);
        } else {
            hooks.push(HookStatus::inactive("ovs".into(), "--no-ovs".into()));
        }
        // Interrupted while attaching: `attached` is dropped, and its guards detach.
        interrupt::check()?;
        let attach_ms = attach_start.elapsed().as_secs_f64() * 1e3;
        let attached_at_ns = monotonic_ns();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the event loop")?;
        let reader = EventReader::new(loaded.take_events()?, loaded.take_lost_counter()?);
        let presence = Presence::new(&opts.interfaces);
        Ok(Self {
            names,
            hooks,
            interfaces: opts.interfaces,
            attach_ms,
            attached_at_ns,
            presence,
            attached,
            reader,
            runtime,
            loaded,
        })
    }

    /// The "attached to ..." line and one line per inactive hook, on stderr.
    pub fn announce(&self) {
        let modes: Vec<String> = self
            .attached
            .tc
            .iter()
            .map(|a| format!("{} ({:?})", a.iface, a.mode).to_lowercase())
            .collect();
        let active: Vec<&str> = self
            .hooks
            .iter()
            .skip(1)
            .filter(|h| h.active)
            .map(|h| h.hook.as_str())
            .collect();
        eprintln!(
            "pathtrace: attached to {} interface(s): {}; also: {} ({:.0} ms). Ctrl-C to stop.",
            self.attached.tc.len(),
            modes.join(", "),
            if active.is_empty() {
                "nothing else".to_string()
            } else {
                active.join(", ")
            },
            self.attach_ms,
        );
        for h in self.hooks.iter().filter(|h| !h.active) {
            eprintln!("pathtrace: inactive: {}: {}", h.hook, h.detail);
        }
    }

    /// Delivers records to `on_records` until it says stop, `timeout` passes or a signal
    /// (SIGINT, SIGTERM, SIGHUP) arrives; `on_tick` runs every `tick` with the lost count so
    /// far and the interfaces found gone since the last tick (once more at the end, so that
    /// none goes unreported). Returns why it stopped and what it could not see.
    pub fn pump(
        &mut self,
        timeout: Option<Duration>,
        tick: Duration,
        mut on_records: impl FnMut(&mut Vec<Record>, &mut Names) -> Control,
        mut on_tick: impl FnMut(Tick),
    ) -> Result<(StopCause, Losses)> {
        let reader = &mut self.reader;
        let names = &mut self.names;
        let presence = &mut self.presence;
        self.runtime
            .block_on(async {
                let deadline = async {
                    match timeout {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::pin!(deadline);
                let mut ticks = tokio::time::interval(tick);
                // The kernel side never wakes us (a wakeup costs more than the probe): we poll.
                let mut poll = tokio::time::interval(POLL_INTERVAL);
                let mut batch = Vec::new();
                let cause = loop {
                    let control = tokio::select! {
                        // Signals are noted by `interrupt` and seen here within one poll period.
                        _ = poll.tick() => {
                            if interrupt::requested().is_some() {
                                break StopCause::Signal;
                            }
                            reader.drain(&mut batch);
                            on_records(&mut batch, names)
                        }
                        _ = ticks.tick() => {
                            on_tick(Tick { lost: reader.lost()?, vanished: presence.check() });
                            Control::Continue
                        }
                        _ = &mut deadline => break StopCause::Timeout,
                    };
                    if control == Control::Stop {
                        break StopCause::Caller;
                    }
                };
                if cause != StopCause::Caller {
                    reader.drain(&mut batch);
                    on_records(&mut batch, names);
                }
                on_tick(Tick {
                    lost: reader.lost()?,
                    vanished: presence.check(),
                });
                anyhow::Ok((cause, reader.lost()?, reader.malformed))
            })
            .map(|(cause, ring_full, malformed)| {
                let losses = Losses {
                    ring_full,
                    malformed,
                    missed_runs: self.loaded.missed_runs(),
                };
                (cause, losses)
            })
    }

    /// Detaches everything; returns how long it took in milliseconds.
    pub fn finish(self) -> Result<f64> {
        let start = Instant::now();
        self.attached.detach()?;
        Ok(start.elapsed().as_secs_f64() * 1e3)
    }
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

/// CLOCK_MONOTONIC in ns: what `bpf_ktime_get_ns` stamps events with.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}
