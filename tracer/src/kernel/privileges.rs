//! Checks, before touching the kernel, that the caller may load and attach eBPF programs, so a
//! missing capability is one clear sentence instead of an EPERM from deep inside a syscall.

use anyhow::{bail, Result};

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Effective capability set of this process, from /proc (no libcap dependency needed).
fn effective_caps() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim)
        .ok_or_else(|| anyhow::anyhow!("no CapEff line in /proc/self/status"))?;
    Ok(u64::from_str_radix(hex, 16)?)
}

/// What is missing for tracing, given an effective capability set.
pub fn missing_for_tracing(caps: u64) -> Vec<&'static str> {
    let has = |c: u32| caps & (1u64 << c) != 0;
    let mut missing = Vec::new();
    // CAP_SYS_ADMIN implies what CAP_BPF and CAP_PERFMON grant (pre-5.8 kernels know only it).
    if !has(CAP_BPF) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_BPF");
    }
    // Needed for the pointer reads (bpf_probe_read_kernel) and tracepoints.
    if !has(CAP_PERFMON) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_PERFMON");
    }
    if !has(CAP_NET_ADMIN) {
        missing.push("CAP_NET_ADMIN");
    }
    // Entering other network namespaces (setns) needs CAP_SYS_ADMIN.
    if !has(CAP_SYS_ADMIN) {
        missing.push("CAP_SYS_ADMIN");
    }
    missing
}

/// Discovery enters every network namespace (setns) and reads other processes' /proc entries.
pub fn require_discovery_privileges() -> Result<()> {
    if effective_caps()? & (1u64 << CAP_SYS_ADMIN) == 0 {
        bail!("insufficient privileges: discovery enters every network namespace and needs CAP_SYS_ADMIN (run as root, e.g. with sudo)");
    }
    Ok(())
}

pub fn require_tracing_privileges() -> Result<()> {
    let missing = missing_for_tracing(effective_caps()?);
    if !missing.is_empty() {
        bail!(
            "insufficient privileges: missing {} (run as root, e.g. with sudo)",
            missing.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_has_everything() {
        assert!(missing_for_tracing(u64::MAX).is_empty());
    }

    #[test]
    fn unprivileged_misses_everything() {
        assert_eq!(
            missing_for_tracing(0),
            ["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"]
        );
    }

    #[test]
    fn bpf_and_perfmon_without_sys_admin_still_miss_setns() {
        let caps = (1 << CAP_BPF) | (1 << CAP_PERFMON) | (1 << CAP_NET_ADMIN);
        assert_eq!(missing_for_tracing(caps), ["CAP_SYS_ADMIN"]);
    }
}
