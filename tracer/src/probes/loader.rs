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
    KFREE_SKB_TP_PROGRAM, LOST_MAP, NETNS_BY_IFINDEX_ENTRIES, NETNS_BY_IFINDEX_MAP, OFFSETS_GLOBAL,
    TC_EGRESS_PROGRAM, TC_INGRESS_PROGRAM, TRACEPOINT_OFFSETS_GLOBAL,
};

use super::{
    drops::{self, DropHook, DropProbe},
    ovs::{self, OvsLink},
    tc::{self, AttachMode, Interface, TcAttachment},
    verify::{self, LoadAs},
};
use crate::event::HookStatus;

/// The entries of the ifindex -> namespace map: one per ifindex in range whose attached
/// interfaces are all in one namespace (others stay 0: the programs then ask the kernel).
fn netns_by_ifindex(ifaces: &[Interface]) -> Vec<(u32, u32)> {
    let mut seen: std::collections::BTreeMap<u32, Option<u32>> = Default::default();
    for i in ifaces
        .iter()
        .filter(|i| i.ifindex < NETNS_BY_IFINDEX_ENTRIES)
    {
        seen.entry(i.ifindex)
            .and_modify(|ino| {
                if *ino != Some(i.netns.ino) {
                    *ino = None;
                }
            })
            .or_insert(Some(i.netns.ino));
    }
    seen.into_iter()
        .filter_map(|(ifindex, ino)| Some((ifindex, ino?)))
        .collect()
}

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
}

impl ProbeConfig {
    /// The programs the session will attach (as far as can be known before trying), and how
    /// each is loaded.
    fn wanted(&self) -> Vec<(&'static str, LoadAs)> {
        let mut wanted = vec![
            (TC_INGRESS_PROGRAM, LoadAs::Plain),
            (TC_EGRESS_PROGRAM, LoadAs::Plain),
        ];
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
        for name in [TC_INGRESS_PROGRAM, TC_EGRESS_PROGRAM] {
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

    /// Attaches the ingress and egress classifiers to every interface (tcx links or netlink
    /// filters, see [`AttachMode::resolve`]). On error nothing stays attached.
    pub fn attach_tc(
        &mut self,
        ifaces: &[Interface],
        mode: AttachMode,
    ) -> Result<Vec<TcAttachment>> {
        self.publish_netns(ifaces)?;
        let (ingress, egress) = self.classifiers()?;
        if mode.resolve(ifaces.len()) == AttachMode::Tcx {
            let (i, e) = (ingress.fd()?.as_fd(), egress.fd()?.as_fd());
            return tc::attach_tcx_all(i, e, ifaces);
        }
        let mut done = Vec::new();
        for iface in ifaces {
            // On error or a signal, `done` is dropped and what was attached so far is detached.
            crate::interrupt::check()?;
            done.push(TcAttachment::attach_netlink(ingress, egress, iface)?);
        }
        Ok(done)
    }

    /// Fills the ifindex -> namespace map the TC programs read (see [`NETNS_BY_IFINDEX_MAP`]).
    fn publish_netns(&mut self, ifaces: &[Interface]) -> Result<()> {
        let map = self
            .ebpf
            .map_mut(NETNS_BY_IFINDEX_MAP)
            .context("ifindex map missing")?;
        let mut by_ifindex: Array<_, u32> = Array::try_from(map)?;
        for (ifindex, ino) in netns_by_ifindex(ifaces) {
            by_ifindex
                .set(ifindex, ino, 0)
                .with_context(|| format!("cannot record the namespace of ifindex {ifindex}"))?;
        }
        Ok(())
    }

    /// The loaded ingress and egress classifiers, borrowed together.
    pub fn classifiers(&mut self) -> Result<(&mut SchedClassifier, &mut SchedClassifier)> {
        let mut ingress = None;
        let mut egress = None;
        for (name, program) in self.ebpf.programs_mut() {
            match name {
                TC_INGRESS_PROGRAM => ingress = Some(program),
                TC_EGRESS_PROGRAM => egress = Some(program),
                _ => {}
            }
        }
        Ok((
            ingress.context("ingress program missing")?.try_into()?,
            egress.context("egress program missing")?.try_into()?,
        ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netns::Netns;

    fn iface(ino: u32, ifindex: u32) -> Interface {
        Interface {
            netns: Netns {
                ino,
                name: format!("ns{ino}"),
                path: format!("/run/netns/ns{ino}").into(),
            },
            name: format!("if{ifindex}"),
            ifindex,
        }
    }

    #[test]
    fn shared_ifindexes_are_left_to_the_kernel() {
        let ifaces = [
            iface(10, 2),
            iface(10, 3),
            iface(11, 2), // same ifindex, other namespace
            iface(11, 7),
            iface(11, 7), // listed twice, same namespace
            iface(12, NETNS_BY_IFINDEX_ENTRIES),
        ];
        assert_eq!(netns_by_ifindex(&ifaces), vec![(3, 10), (7, 11)]);
    }
}
