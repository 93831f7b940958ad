//! Loads the embedded eBPF object with the filter and kernel offsets baked into `.rodata`.

use std::os::fd::AsFd as _;

use anyhow::{Context as _, Result};
use aya::{
    maps::{Array, MapData, PerCpuArray, RingBuf},
    programs::{BtfTracePoint, KProbe, Program, SchedClassifier, TracePoint},
    Btf, Ebpf, EbpfLoader,
};
use tracer_common::{
    Filter, KernelOffsets, TracepointOffsets, EVENTS_MAP, FILTER_GLOBAL, KFREE_SKB_BTF_PROGRAM,
    KFREE_SKB_TP_PROGRAM, LOST_MAP, NETNS_BY_IFINDEX_MAP, OFFSETS_GLOBAL, TC_EGRESS_PROGRAMS,
    TC_INGRESS_PROGRAMS, TRACEPOINT_OFFSETS_GLOBAL,
};

use super::{
    drops::{self, DropHook, DropProbe},
    netns_groups::NetnsGroups,
    ovs::{self, OvsLink},
    tc::{self, AttachMode, Interface, TcAttachment},
    verify::{self, LoadAs},
};
use crate::event::HookStatus;

/// The eBPF object built from `tracer-ebpf` by build.rs.
pub(super) static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer"));

pub struct ProbeConfig {
    pub filter: Filter,
    pub offsets: KernelOffsets,
    pub tracepoint_offsets: TracepointOffsets,
    /// Ring buffer size in bytes (a power of two multiple of the page size).
    pub ring_buffer_bytes: u32,
    /// The drop hook that will be attached, if any: verified with the classifiers.
    pub drops: Option<DropHook>,
    /// Whether the Open vSwitch hooks will be attached: verified with the classifiers.
    pub ovs: bool,
    /// Copies of the classifiers to load, one per namespace group ([`NetnsGroups::count`]).
    pub tc_groups: usize,
}

impl ProbeConfig {
    /// The programs the session will attach (as far as can be known before trying), and how
    /// each is loaded.
    fn wanted(&self) -> Vec<(&'static str, LoadAs)> {
        let mut wanted: Vec<_> = self
            .classifiers()
            .map(|name| (name, LoadAs::Plain))
            .collect();
        match self.drops {
            None => {}
            Some(DropHook::Auto | DropHook::Btf) => wanted.push((
                KFREE_SKB_BTF_PROGRAM,
                LoadAs::BtfTracePoint(drops::KFREE_SKB_EVENT),
            )),
            Some(DropHook::Tracepoint) => wanted.push((KFREE_SKB_TP_PROGRAM, LoadAs::Plain)),
        }
        if self.ovs && ovs::module_loaded() {
            if ovs::kprobes_supported() {
                wanted.extend(ovs::KPROBES.iter().map(|(p, _)| (*p, LoadAs::Plain)));
            }
            wanted.extend(
                ovs::TRACEPOINTS
                    .iter()
                    .filter(|(_, tp)| crate::kernel::tracefs::exists("openvswitch", tp))
                    .map(|(p, _)| (*p, LoadAs::Plain)),
            );
        }
        wanted
    }

    /// The names of the classifiers to load: ingress and egress of each group in use.
    fn classifiers(&self) -> impl Iterator<Item = &'static str> {
        TC_INGRESS_PROGRAMS
            .into_iter()
            .zip(TC_EGRESS_PROGRAMS)
            .take(self.tc_groups)
            .flat_map(|(i, e)| [i, e])
    }
}

/// The loaded programs and maps. Attachments are separate guards that borrow nothing from
/// here, so they can be dropped (detached) before the programs are unloaded.
pub struct LoadedProbes {
    ebpf: Ebpf,
    /// Parsed once: the drop probe needs it again to resolve its attach point.
    btf: Btf,
    tracepoint_offsets: TracepointOffsets,
}

/// aya's own parse of the kernel's BTF (for relocations and the BTF tracepoint), on a thread of
/// its own: it takes as long as the session's parse for offsets and names, which runs beside it.
pub struct BtfParse(std::thread::JoinHandle<Result<Btf, aya::BtfError>>);

impl BtfParse {
    pub fn spawn() -> Result<Self> {
        std::thread::Builder::new()
            .name("btf-parse".into())
            .spawn(Btf::from_sys_fs)
            .map(Self)
            .context("cannot start parsing the kernel BTF")
    }

    pub fn join(self) -> Result<Btf> {
        self.0
            .join()
            .map_err(|_| anyhow::anyhow!("parsing the kernel BTF panicked"))?
            .context("cannot read kernel BTF")
    }
}

impl LoadedProbes {
    pub fn load(config: &ProbeConfig, btf: Btf) -> Result<Self> {
        let ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .override_global(FILTER_GLOBAL, &config.filter, true)
            .override_global(OFFSETS_GLOBAL, &config.offsets, true)
            .override_global(TRACEPOINT_OFFSETS_GLOBAL, &config.tracepoint_offsets, true)
            .map_max_entries(EVENTS_MAP, config.ring_buffer_bytes)
            .load(EBPF_OBJECT)
            .context("cannot load the eBPF object")?;
        let mut probes = Self {
            ebpf,
            btf,
            tracepoint_offsets: config.tracepoint_offsets,
        };
        verify::load_all(&mut probes.ebpf, &config.wanted(), &probes.btf);
        for name in config.classifiers() {
            let program: &mut SchedClassifier = probes.program(name)?.try_into()?;
            verify::loaded(program.load())
                .with_context(|| format!("the kernel rejected the TC program {name}"))?;
        }
        Ok(probes)
    }

    fn program(&mut self, name: &str) -> Result<&mut Program> {
        self.ebpf
            .program_mut(name)
            .with_context(|| format!("program {name} missing from the eBPF object"))
    }

    /// Attaches the ingress and egress classifiers of its namespace group to every interface
    /// (tcx links or netlink filters, see [`AttachMode::resolve`]). On error nothing stays
    /// attached.
    pub fn attach_tc(
        &mut self,
        ifaces: &[Interface],
        groups: &NetnsGroups,
        mode: AttachMode,
    ) -> Result<Vec<TcAttachment>> {
        self.publish_netns(groups)?;
        let mut classifiers = self.classifiers(groups.count())?;
        if mode.resolve(ifaces.len()) == AttachMode::Tcx {
            let mut fds = Vec::with_capacity(classifiers.len());
            for (ingress, egress) in &classifiers {
                fds.push((ingress.fd()?.as_fd(), egress.fd()?.as_fd()));
            }
            return tc::attach_tcx_all(&fds, ifaces, groups.of());
        }
        let mut done = Vec::new();
        for (iface, group) in ifaces.iter().zip(groups.of()) {
            // On error or a signal, `done` is dropped and what was attached so far is detached.
            crate::interrupt::check()?;
            let (ingress, egress) = &mut classifiers[*group];
            done.push(TcAttachment::attach_netlink(ingress, egress, iface)?);
        }
        Ok(done)
    }

    /// Fills the namespace map the TC programs read (see [`NETNS_BY_IFINDEX_MAP`]).
    fn publish_netns(&mut self, groups: &NetnsGroups) -> Result<()> {
        let map = self
            .ebpf
            .map_mut(NETNS_BY_IFINDEX_MAP)
            .context("ifindex map missing")?;
        let mut by_slot: Array<_, u32> = Array::try_from(map)?;
        for &(slot, ino) in groups.entries() {
            by_slot
                .set(slot, ino, 0)
                .with_context(|| format!("cannot record the namespace of map slot {slot}"))?;
        }
        Ok(())
    }

    /// The loaded ingress and egress classifiers of the first `groups` namespace groups, in
    /// group order, borrowed together.
    fn classifiers(
        &mut self,
        groups: usize,
    ) -> Result<Vec<(&mut SchedClassifier, &mut SchedClassifier)>> {
        let mut ingress: Vec<Option<&mut Program>> = (0..groups).map(|_| None).collect();
        let mut egress: Vec<Option<&mut Program>> = (0..groups).map(|_| None).collect();
        for (name, program) in self.ebpf.programs_mut() {
            if let Some(g) = TC_INGRESS_PROGRAMS[..groups]
                .iter()
                .position(|n| *n == name)
            {
                ingress[g] = Some(program);
            } else if let Some(g) = TC_EGRESS_PROGRAMS[..groups].iter().position(|n| *n == name) {
                egress[g] = Some(program);
            }
        }
        ingress
            .into_iter()
            .zip(egress)
            .enumerate()
            .map(|(g, (i, e))| {
                let i = i.with_context(|| format!("ingress program of group {g} missing"))?;
                let e = e.with_context(|| format!("egress program of group {g} missing"))?;
                Ok((i.try_into()?, e.try_into()?))
            })
            .collect()
    }

    /// Loads and attaches the drop probe with the hook `mode` asks for.
    pub fn attach_drops(&mut self, mode: DropHook) -> Result<DropProbe> {
        let btf_attempt = match mode {
            DropHook::Tracepoint => None,
            _ => {
                let program: &mut BtfTracePoint = self
                    .ebpf
                    .program_mut(KFREE_SKB_BTF_PROGRAM)
                    .context("drop program missing from the eBPF object")?
                    .try_into()?;
                Some(DropProbe::attach_btf(program, &self.btf))
            }
        };
        match (mode, btf_attempt) {
            (_, Some(Ok(p))) => Ok(p),
            (DropHook::Btf, Some(Err(e))) => Err(e),
            (_, previous) => {
                let offset = self.tracepoint_offsets.kfree_skb_skbaddr;
                let program: &mut TracePoint = self.program(KFREE_SKB_TP_PROGRAM)?.try_into()?;
                DropProbe::attach_tracepoint(program, offset).map_err(|e| match previous {
                    Some(Err(btf_err)) => e.context(format!("{btf_err:#}; fallback")),
                    _ => e,
                })
            }
        }
    }

    /// Attaches every Open vSwitch datapath hook the kernel has. Returns the links of those that
    /// attached and one status per hook.
    pub fn attach_ovs(&mut self) -> (Vec<OvsLink>, Vec<HookStatus>) {
        let mut links = Vec::new();
        let mut statuses = Vec::new();
        let labels = ovs::KPROBES
            .iter()
            .map(|(_, f)| format!("kprobe/{f}"))
            .chain(
                ovs::TRACEPOINTS
                    .iter()
                    .map(|(_, tp)| format!("tracepoint/openvswitch:{tp}")),
            );
        if !ovs::module_loaded() {
            for label in labels {
                statuses.push(HookStatus::inactive(
                    label,
                    "the openvswitch module is not loaded".into(),
                ));
            }
            return (links, statuses);
        }
        for (program, function) in ovs::KPROBES {
            let result = self
                .program(program)
                .and_then(|p| Ok(<&mut KProbe>::try_from(p)?))
                .and_then(|p| ovs::attach_kprobe(p, function));
            statuses.push(ovs::status(format!("kprobe/{function}"), &result));
            links.extend(result.ok());
        }
        for (program, tp) in ovs::TRACEPOINTS {
            let result = self
                .program(program)
                .and_then(|p| Ok(<&mut TracePoint>::try_from(p)?))
                .and_then(|p| ovs::attach_tracepoint(p, tp));
            statuses.push(ovs::status(format!("tracepoint/openvswitch:{tp}"), &result));
            links.extend(result.ok());
        }
        (links, statuses)
    }

    pub fn take_events(&mut self) -> Result<RingBuf<MapData>> {
        let map = self
            .ebpf
            .take_map(EVENTS_MAP)
            .context("events ring buffer missing")?;
        Ok(RingBuf::try_from(map)?)
    }

    /// Runs of our programs the kernel skipped so far (see [`super::missed`]), over every
    /// loaded program; `None` where the kernel does not count them.
    pub fn missed_runs(&self) -> Option<u64> {
        let counts: Vec<u64> = self
            .ebpf
            .programs()
            .filter_map(|(_, p)| p.fd().ok())
            .filter_map(|fd| super::missed::recursion_misses(fd.as_fd()))
            .collect();
        (!counts.is_empty()).then(|| counts.iter().sum())
    }

    pub fn take_lost_counter(&mut self) -> Result<PerCpuArray<MapData, u64>> {
        let map = self
            .ebpf
            .take_map(LOST_MAP)
            .context("lost counter missing")?;
        Ok(PerCpuArray::try_from(map)?)
    }
}
