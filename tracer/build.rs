//! Builds `tracer-ebpf` for the BPF target with the nightly toolchain (see README, "Pinned
//! versions") and leaves the object in OUT_DIR, where `probes::loader` embeds it.
use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use aya_build::Toolchain;

/// The nightly that is installed and whose LLVM matches bpf-linker 0.10.4's (README).
const TOOLCHAIN: &str = "nightly";

fn main() -> anyhow::Result<()> {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?);
    let ebpf_dir = manifest_dir
        .parent()
        .ok_or_else(|| anyhow!("tracer has no parent directory"))?
        .join("tracer-ebpf");
    let ebpf_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow!("non UTF-8 path {}", ebpf_dir.display()))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "tracer-ebpf",
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        Toolchain::Custom(TOOLCHAIN),
    )
}
