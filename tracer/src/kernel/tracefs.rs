//! Classic tracepoint record layouts, read from tracefs `format` files: the field offsets move
//! between kernels, so none is compiled in.

use std::path::{Path, PathBuf};

use tracer_common::{TracepointOffsets, OFFSET_UNAVAILABLE};

/// Where tracefs is usually mounted (the second is the debugfs view of it).
const TRACEFS_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The mounted tracefs, if any.
pub fn root() -> Option<PathBuf> {
    TRACEFS_ROOTS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("events").is_dir())
}

/// Makes tracefs available to this process if it is not mounted: in a private mount namespace
/// of our own, so the host's mounts are never touched and nothing outlives the process. Must be
/// called while the process has a single thread (unshare(CLONE_NEWNS) requires it).
pub fn ensure_mounted() -> anyhow::Result<PathBuf> {
    use anyhow::Context as _;
    if let Some(r) = root() {
        return Ok(r);
    }
    let target = PathBuf::from(TRACEFS_ROOTS[0]);
    // SAFETY: plain syscalls with valid NUL-terminated strings.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(std::io::Error::last_os_error())
                .context("cannot create a private mount namespace for tracefs");
        }
        if libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(std::io::Error::last_os_error())
                .context("cannot make the private mount namespace private");
        }
        if libc::mount(
            c"tracefs".as_ptr(),
            c"/sys/kernel/tracing".as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        ) != 0
        {
            return Err(std::io::Error::last_os_error())
                .context("tracefs is not mounted and cannot be mounted");
        }
    }
    Ok(target)
}

/// Whether tracepoint `category:name` exists on this kernel.
pub fn exists(category: &str, name: &str) -> bool {
    root().is_some_and(|r| r.join("events").join(category).join(name).is_dir())
}

/// Offset of each named field of one tracepoint record, from its `format` file text.
pub fn field_offsets(format: &str) -> Vec<(String, u16)> {
    format
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let decl = line.strip_prefix("field:")?.split(';').next()?;
            // "unsigned int len", "void * skbaddr", "__data_loc char[] dp_name", "u8 x[4]".
            let name = decl.rsplit([' ', '*']).next()?.split('[').next()?;
            let offset = line
                .split(';')
                .find_map(|part| part.trim().strip_prefix("offset:"))?
                .parse()
                .ok()?;
            Some((name.to_string(), offset))
        })
        .collect()
}

fn format_of(root: &Path, category: &str, name: &str) -> Option<String> {
    std::fs::read_to_string(root.join("events").join(category).join(name).join("format")).ok()
}

/// Offsets of the fields the probes read, [`OFFSET_UNAVAILABLE`] where a tracepoint or field is
/// missing (or tracefs is not mounted).
pub fn offsets() -> TracepointOffsets {
    let mut out = TracepointOffsets::UNAVAILABLE;
    let Some(root) = root() else {
        return out;
    };
    let lookup = |category: &str, name: &str| {
        let fields = format_of(&root, category, name)
            .map(|f| field_offsets(&f))
            .unwrap_or_default();
        move |field: &str| {
            fields
                .iter()
                .find(|(n, _)| n == field)
                .map_or(OFFSET_UNAVAILABLE, |(_, o)| *o)
        }
    };
    let kfree = lookup("skb", "kfree_skb");
    out.kfree_skb_skbaddr = kfree("skbaddr");
    out.kfree_skb_reason = kfree("reason");
    let action = lookup("openvswitch", "ovs_do_execute_action");
    out.ovs_action_skbaddr = action("skbaddr");
    out.ovs_action_type = action("action_type");
    out.ovs_action_data = action("action_data");
    out.ovs_action_len = action("action_len");
    let upcall = lookup("openvswitch", "ovs_dp_upcall");
    out.ovs_upcall_skbaddr = upcall("skbaddr");
    out.ovs_upcall_cmd = upcall("upcall_cmd");
    out.ovs_upcall_port = upcall("upcall_port");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `openvswitch:ovs_do_execute_action` on 6.12 (shortened).
    const OVS_ACTION_FORMAT: &str = "name: ovs_do_execute_action
ID: 1680
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:void * dpaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:__data_loc char[] dp_name;\toffset:16;\tsize:4;\tsigned:0;
\tfield:void * skbaddr;\toffset:24;\tsize:8;\tsigned:0;
\tfield:u8 action_type;\toffset:84;\tsize:1;\tsigned:0;
\tfield:unsigned int action_len;\toffset:88;\tsize:4;\tsigned:0;
\tfield:void * action_data;\toffset:96;\tsize:8;\tsigned:0;

print fmt: \"dpaddr=%p\"";

    #[test]
    fn parses_field_offsets() {
        let f = field_offsets(OVS_ACTION_FORMAT);
        let get = |n: &str| f.iter().find(|(name, _)| name == n).map(|(_, o)| *o);
        assert_eq!(get("skbaddr"), Some(24));
        assert_eq!(get("dp_name"), Some(16));
        assert_eq!(get("action_type"), Some(84));
        assert_eq!(get("action_data"), Some(96));
        assert_eq!(get("common_type"), Some(0));
        assert_eq!(get("print"), None);
    }
}
