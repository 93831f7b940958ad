//! Installs what building and testing pathtrace needs on a Debian 12 machine. Every step checks
//! first and says whether it did anything, so running it again is cheap and safe.

use std::{path::Path, process::Command};

use anyhow::{bail, Context as _, Result};

use crate::sh::{exec, probe};

#[derive(clap::Args, Default)]
pub struct Options {
    /// Skip the VM stack (backports kernel, QEMU, virtme-ng): enough for the host tests.
    #[arg(long)]
    pub host_only: bool,
}

pub const NIGHTLY: &str = "nightly";
const BPF_LINKER_VERSION: &str = "0.10.4";
const CARGO_FUZZ_VERSION: &str = "0.13.2";
const VIRTME_NG_VERSION: &str = "1.42";
const BACKPORTS: &str = "bookworm-backports";
const BACKPORTS_SOURCES: &str = "/etc/apt/sources.list.d/pathtrace-backports.sources";

/// Debian packages the host needs: topology building, DHCP server and clients, tracing checks.
/// Open vSwitch is here too because VMs run the host's root filesystem.
const HOST_PACKAGES: &[&str] = &[
    "iproute2",
    "iputils-ping",
    "nftables",
    "dnsmasq-base",
    "isc-dhcp-client",
    "udhcpc",
    "busybox-static",
    "openvswitch-switch",
    // OVN's databases, ovn-northd and ovn-controller, started by the guest tests like OVS.
    "ovn-central",
    "ovn-host",
    "util-linux",
    // `cargo xtask bench`: TCP throughput with and without pathtrace attached.
    "iperf3",
    // `dot` renders `pathtrace topology --format dot` in the tests.
    "graphviz",
    // `virsh` (test driver, no daemon) produces real domain XML for the libvirt parser tests.
    "libvirt-clients",
];

/// Packages taken from bookworm-backports, named one by one (a blanket `-t bookworm-backports`
/// would also upgrade systemd). bpftool >= 7.3 is needed to list tcx links.
const HOST_BACKPORTS: &[&str] = &["bpftool"];

/// The VM stack: a 6.12 kernel with openvswitch/geneve/8021q modules, kprobes and BTF, and a
/// QEMU that does not replace the preinstalled qemu-utils.
const VM_BACKPORTS: &[&str] = &[
    "linux-image-amd64",
    "qemu-system-x86",
    "qemu-system-common",
    "qemu-system-data",
    "seabios",
];

/// Debian 12's own kernel: no tcx (Linux < 6.6), so the second VM leg of the tests runs the
/// netlink fallback for real. Not `-cloud`: vng needs 9p. Installing it repoints /vmlinuz;
/// the VMs always name their kernel.
pub const SECOND_KERNEL_PACKAGE: &str = "linux-image-6.1.0-56-amd64";
pub const SECOND_KERNEL_IMAGE: &str = "/boot/vmlinuz-6.1.0-56-amd64";

fn step(name: &str) {
    eprintln!("==> {name}");
}

pub fn run(opts: &Options) -> Result<()> {
    rust_src()?;
    bpf_linker()?;
    cargo_fuzz()?;
    debian_packages(opts)?;
    if !opts.host_only {
        virtme_ng()?;
    }
    eprintln!("==> setup complete");
    Ok(())
}

fn rust_src() -> Result<()> {
    step("nightly toolchain with rust-src (eBPF crate, -Z build-std=core)");
    let installed = probe(
        "rustup",
        &["component", "list", "--toolchain", NIGHTLY, "--installed"],
    );
    match installed {
        Some(list) if list.lines().any(|l| l.starts_with("rust-src")) => {
            eprintln!("    already installed");
            Ok(())
        }
        Some(_) => exec(Command::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            NIGHTLY,
        ])),
        None => exec(Command::new("rustup").args([
            "toolchain",
            "install",
            NIGHTLY,
            "--profile",
            "minimal",
            "--component",
            "rust-src",
        ])),
    }
}

fn bpf_linker() -> Result<()> {
    versioned_tool(
        "bpf-linker",
        BPF_LINKER_VERSION,
        Command::new("cargo").args([
            "install",
            &format!("bpf-linker@{BPF_LINKER_VERSION}"),
            "--locked",
        ]),
    )
}

/// cargo-fuzz, for `cargo xtask fuzz` (and its smoke run in `cargo xtask test`).
pub fn cargo_fuzz() -> Result<()> {
    step(&format!("cargo-fuzz {CARGO_FUZZ_VERSION}"));
    // A cargo subcommand: it answers `--version` only when called through cargo.
    if probe("cargo", &["fuzz", "--version"]).is_some_and(|v| v.contains(CARGO_FUZZ_VERSION)) {
        eprintln!("    already installed");
        return Ok(());
    }
    exec(Command::new("cargo").args([
        "install",
        &format!("cargo-fuzz@{CARGO_FUZZ_VERSION}"),
        "--locked",
    ]))
}

/// Installs `tool` with `install` unless `tool --version` already reports `version`.
fn versioned_tool(tool: &str, version: &str, install: &mut Command) -> Result<()> {
    step(&format!("{tool} {version}"));
    if probe(tool, &["--version"]).is_some_and(|v| v.contains(version)) {
        eprintln!("    already installed");
        return Ok(());
    }
    exec(install)
}

/// `Some(version)` if the package is installed.
fn installed_version(package: &str) -> Option<String> {
    let out = probe("dpkg-query", &["-W", "-f=${Status} ${Version}", package])?;
    let rest = out.strip_prefix("install ok installed ")?;
    Some(rest.trim().to_string())
}

fn debian_packages(opts: &Options) -> Result<()> {
    step("Debian packages");
    let mut wanted: Vec<String> = Vec::new();
    for p in HOST_PACKAGES {
        if installed_version(p).is_none() {
            wanted.push(p.to_string());
        }
    }
    let mut backports: Vec<&str> = HOST_BACKPORTS.to_vec();
    if !opts.host_only {
        backports.extend_from_slice(VM_BACKPORTS);
        if installed_version(SECOND_KERNEL_PACKAGE).is_none() {
            wanted.push(SECOND_KERNEL_PACKAGE.to_string());
        }
    }
    for p in backports {
        if !installed_version(p).is_some_and(|v| v.contains("bpo")) {
            wanted.push(format!("{p}/{BACKPORTS}"));
        }
    }
    if wanted.is_empty() {
        eprintln!("    all installed");
        return Ok(());
    }
    if wanted.iter().any(|p| p.contains(BACKPORTS)) {
        backports_source()?;
    }
    exec(Command::new("apt-get").args(["update", "-q"]))?;
    exec(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&wanted),
    )
}

/// Adds bookworm-backports with the mirror and key of the machine's own Debian source.
fn backports_source() -> Result<()> {
    let configured = std::fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .chain([Path::new("/etc/apt/sources.list").to_path_buf()])
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .any(|s| s.contains(BACKPORTS));
    if configured {
        return Ok(());
    }
    let own = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources")
        .context("no /etc/apt/sources.list.d/debian.sources to copy the Debian mirror from")?;
    let field = |name: &str| {
        own.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let (Some(uris), Some(key)) = (field("URIs:"), field("Signed-By:")) else {
        bail!("cannot find URIs/Signed-By in debian.sources");
    };
    eprintln!("    adding {BACKPORTS} ({BACKPORTS_SOURCES})");
    std::fs::write(
        BACKPORTS_SOURCES,
        format!(
            "Types: deb\nURIs: {uris}\nSuites: {BACKPORTS}\nComponents: main\nSigned-By: {key}\n"
        ),
    )
    .with_context(|| format!("cannot write {BACKPORTS_SOURCES} (are you root?)"))
}

fn virtme_ng() -> Result<()> {
    // The tool is `vng`; pip puts it next to the interpreter.
    versioned_tool(
        "vng",
        VIRTME_NG_VERSION,
        Command::new("python3").args([
            "-m",
            "pip",
            "install",
            "-q",
            &format!("virtme-ng=={VIRTME_NG_VERSION}"),
        ]),
    )
}
