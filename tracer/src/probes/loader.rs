//! Loads the embedded eBPF object with the filter and kernel offsets baked into `.rodata`.

use anyhow::{Context as _, Result};
use aya::{
    maps::{MapData, PerCpuArray, RingBuf},
    programs::{BtfTracePoint, SchedClassifier},
    Btf, Ebpf, EbpfLoader,
};
use tracer_common::{
    Filter, KernelOffsets, EVENTS_MAP, FILTER_GLOBAL, KFREE_SKB_PROGRAM, LOST_MAP, OFFSETS_GLOBAL,
    TC_EGRESS_PROGRAM, TC_INGRESS_PROGRAM,
};

use super::{
    drops::DropProbe,
    tc::{AttachMode, Interface, TcAttachment},
};

/// The eBPF object built from `tracer-ebpf` by build.rs.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/tracer"));

pub struct ProbeConfig {
    pub filter: Filter,
    pub offsets: KernelOffsets,
    /// Ring buffer size in bytes (a power of two multiple of the page size).
    pub ring_buffer_bytes: u32,
}

/// The loaded programs and maps. Attachments are separate guards that borrow nothing from
/// here, so they can be dropped (detached) before the programs are unloaded.
pub struct LoadedProbes {
    ebpf: Ebpf,
    /// Parsed once: the drop probe needs it again to resolve its attach point.
    btf: Btf,
}

impl LoadedProbes {
    pub fn load(config: &ProbeConfig) -> Result<Self> {
        let btf = Btf::from_sys_fs().context("cannot read kernel BTF")?;
        let ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .override_global(FILTER_GLOBAL, &config.filter, true)
            .override_global(OFFSETS_GLOBAL, &config.offsets, true)
            .map_max_entries(EVENTS_MAP, config.ring_buffer_bytes)
            .load(EBPF_OBJECT)
            .context("cannot load the eBPF object")?;
        let mut probes = Self { ebpf, btf };
        for name in [TC_INGRESS_PROGRAM, TC_EGRESS_PROGRAM] {
            probes
                .classifier(name)?
                .load()
                .with_context(|| format!("the kernel rejected the TC program {name}"))?;
        }
        Ok(probes)
    }

    fn classifier(&mut self, name: &str) -> Result<&mut SchedClassifier> {
        let program = self
            .ebpf
            .program_mut(name)
            .with_context(|| format!("program {name} missing from the eBPF object"))?;
        Ok(program.try_into()?)
    }

    /// Attaches the ingress and egress classifiers to one interface.
    pub fn attach_tc(&mut self, iface: &Interface, mode: AttachMode) -> Result<TcAttachment> {
        let ebpf = &mut self.ebpf;
        let mut programs = ebpf.programs_mut();
        let mut ingress = None;
        let mut egress = None;
        for (name, program) in &mut programs {
            match name {
                TC_INGRESS_PROGRAM => ingress = Some(program),
                TC_EGRESS_PROGRAM => egress = Some(program),
                _ => {}
            }
        }
        let ingress: &mut SchedClassifier =
            ingress.context("ingress program missing")?.try_into()?;
        let egress: &mut SchedClassifier = egress.context("egress program missing")?.try_into()?;
        TcAttachment::attach(ingress, egress, iface, mode)
    }

    /// Loads and attaches the drop tracepoint.
    pub fn attach_drops(&mut self) -> Result<DropProbe> {
        let program: &mut BtfTracePoint = self
            .ebpf
            .program_mut(KFREE_SKB_PROGRAM)
            .context("drop program missing from the eBPF object")?
            .try_into()?;
        DropProbe::attach(program, &self.btf)
    }

    pub fn take_events(&mut self) -> Result<RingBuf<MapData>> {
        let map = self
            .ebpf
            .take_map(EVENTS_MAP)
            .context("events ring buffer missing")?;
        Ok(RingBuf::try_from(map)?)
    }

    pub fn take_lost_counter(&mut self) -> Result<PerCpuArray<MapData, u64>> {
        let map = self
            .ebpf
            .take_map(LOST_MAP)
            .context("lost counter missing")?;
        Ok(PerCpuArray::try_from(map)?)
    }
}
