//! One capture session: load the probes, attach them (TC on the given interfaces, drops, OVS),
//! pump events until the caller or a signal says stop, and detach everything. Shared by
//! `pathtrace trace` (an event stream) and the journey commands (`--dhcp`, `trace --mac`).

use std::{
    path::Path,
    time::{Duration, Instant},
};

use super::{
    drain::{Drain, Next, POLL_INTERVAL},
    lost::LostCounter,
    names::Names,
    presence::Presence,
    Record,
};
use crate::{
    clock,
    event::{HookStatus, Timings, Vanished},
    interrupt,
    kernel::{btf::KernelBtf, tracefs},
    netns::NetnsTable,
    probes::{
        self, AttachMode, DropHook, DropProbe, FilterSpec, Interface, LoadedProbes, NetnsGroups,
        OvsLink, ProbeConfig, TcAttachment,
    },
    topology::sources::datapath,
};
use anyhow::Result;

pub struct SessionOptions<'a> {
    pub interfaces: Vec<Interface>,
    pub filter: FilterSpec,
    pub btf: &'a Path,
    pub tc_attach: AttachMode,
    /// `None`: no drop probe.
    pub drops: Option<DropHook>,
    pub ovs: OvsHooks,
    pub ring_buffer_bytes: u32,
}

/// Whether the Open vSwitch datapath hooks are attached: they cost every packet of the host a
/// few microseconds under emulation even when nothing matches, so only where they can see the
/// packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OvsHooks {
    Attach,
    /// Not attached, and why (the hook's status says it).
    Skip(&'static str),
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
    /// Where the start-up time went; the command adds its discovery.
    pub timings: Timings,
    /// CLOCK_MONOTONIC (the probes' clock) once everything was attached: a packet seen
    /// earlier may have passed hooks that were not there yet.
    pub attached_at_ns: u64,
    /// The same moment, for the time to the first event.
    attached_at: Instant,
    attached: Attached,
    /// `None` once finished.
    drain: Option<Drain>,
    lost: LostCounter,
    presence: Presence,
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

impl Session {
    /// Loads and attaches. `tracefs` must have been ensured while the process was still
    /// single-threaded (see [`tracefs::ensure_mounted`]). On error nothing stays attached.
    pub fn start(opts: SessionOptions<'_>, table: NetnsTable) -> Result<Self> {
        let mut timings = Timings::default();
        let t = Instant::now();
        let aya_btf = probes::BtfParse::spawn()?;
        let btf = KernelBtf::from_file(opts.btf)?;
        let groups = NetnsGroups::assign(&opts.interfaces);
        let config = ProbeConfig {
            filter: opts.filter.to_kernel(),
            offsets: btf.offsets(),
            tracepoint_offsets: tracefs::offsets(),
            ring_buffer_bytes: opts.ring_buffer_bytes,
            drops: opts.drops,
            ovs: opts.ovs == OvsHooks::Attach,
            tc_groups: groups.count(),
        };
        let mut names = Names::new(table, btf.drop_reasons());
        names.set_ovs_actions(btf.ovs_actions());
        let aya_btf = aya_btf.join()?;
        timings.btf_ms = clock::ms_since(t);
        let t = Instant::now();
        let mut loaded = LoadedProbes::load(&config, aya_btf)?;
        timings.load_ms = clock::ms_since(t);
        let attach_start = Instant::now();
        // From the first attachment on, a signal must let the guards detach.
        interrupt::arm();
        let mut attached = Attached {
            tc: loaded.attach_tc(&opts.interfaces, &groups, opts.tc_attach)?,
            drops: None,
            ovs: Vec::new(),
        };
        timings.attach_tc_ms = clock::ms_since(attach_start);
        for iface in &opts.interfaces {
            names.add_interface(iface.netns.ino, iface.ifindex, &iface.name);
        }
        let mut hooks = vec![HookStatus::active("tc".into(), tc_summary(&attached.tc))];
        let t = Instant::now();
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
        timings.attach_drops_ms = clock::ms_since(t);
        let t = Instant::now();
        match opts.ovs {
            OvsHooks::Attach => {
                let (links, statuses) = loaded.attach_ovs();
                if !links.is_empty() {
                    names.set_datapath_ports(datapath::ports());
                }
                attached.ovs = links;
                hooks.extend(statuses);
            }
            OvsHooks::Skip(why) => hooks.push(HookStatus::inactive("ovs".into(), why.into())),
        }
        timings.attach_ovs_ms = clock::ms_since(t);
        // Interrupted while attaching: `attached` is dropped, and its guards detach.
        interrupt::check()?;
        let attach_ms = clock::ms_since(attach_start);
        let attached_at_ns = clock::monotonic_ns();
        let attached_at = Instant::now();
        timings.to_attached_ms = clock::since_start_ms();
        let drain = Drain::spawn(loaded.take_events()?)?;
        let lost = LostCounter::new(loaded.take_lost_counter()?);
        let presence = Presence::new(&opts.interfaces);
        Ok(Self {
            names,
            hooks,
            interfaces: opts.interfaces,
            attach_ms,
            timings,
            attached_at_ns,
            attached_at,
            presence,
            attached,
            drain: Some(drain),
            lost,
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

    /// Delivers records to `on_records` (an empty batch when none came within a poll period)
    /// until it says stop, `timeout` passes or a signal
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
        let drain = self.drain.take().expect("pumped once");
        let started = Instant::now();
        let deadline = timeout.map(|d| started + d);
        let mut next_tick = started + tick;
        let mut first_event = None;
        let cause = loop {
            // Signals are noted by `interrupt` and seen here within one poll period, as is an
            // output nobody reads any more.
            interrupt::check_output();
            if interrupt::requested().is_some() {
                break StopCause::Signal;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break StopCause::Timeout;
            }
            if now >= next_tick {
                on_tick(Tick {
                    lost: self.lost.read()?,
                    vanished: self.presence.check(),
                });
                next_tick += tick;
            }
            let until = deadline.map_or(next_tick, |d| d.min(next_tick));
            let wait = until.saturating_duration_since(now).min(POLL_INTERVAL);
            // An empty batch too: a caller waiting out a grace period after its last record
            // decides to stop while nothing arrives.
            let mut batch = match drain.next(wait)? {
                Next::Batch(batch) => {
                    first_event.get_or_insert_with(|| clock::ms_since(self.attached_at));
                    batch
                }
                Next::Idle => Vec::new(),
            };
            if on_records(&mut batch, &mut self.names) == Control::Stop {
                break StopCause::Caller;
            }
        };
        // What the kernel had delivered when the pump stopped (unless the caller had enough).
        let (rest, malformed) = drain.finish();
        for mut batch in rest {
            if cause != StopCause::Caller {
                first_event.get_or_insert_with(|| clock::ms_since(self.attached_at));
                on_records(&mut batch, &mut self.names);
            }
        }
        self.timings.first_event_ms = first_event;
        let ring_full = self.lost.read()?;
        on_tick(Tick {
            lost: ring_full,
            vanished: self.presence.check(),
        });
        let losses = Losses {
            ring_full,
            malformed,
            missed_runs: self.loaded.missed_runs(),
        };
        Ok((cause, losses))
    }

    /// Detaches everything; returns how long it took in milliseconds.
    pub fn finish(self) -> Result<f64> {
        let start = Instant::now();
        self.attached.detach()?;
        Ok(clock::ms_since(start))
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
