//! Daemons found in /proc by name (dnsmasq, ovn-controller), trusted only when root started
//! them: anyone can name a process `dnsmasq` and give it a command line naming any file, so a
//! process counts only if its executable is a root-owned file of that name nobody else may
//! write, it shares our user namespace, and it runs as root or holds one of the capabilities
//! its job needs. No process is spawned.

use std::{
    os::unix::fs::{MetadataExt as _, PermissionsExt as _},
    path::Path,
};

/// Capabilities daemons that serve DHCP or program OVS hold (bind port 67, raw sockets, ARP).
pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_NET_RAW: u32 = 13;

/// A running daemon: pid, argv (without argv[0]) and network namespace inode.
pub struct Process {
    pub pid: u32,
    pub args: Vec<String>,
    pub netns: Option<u32>,
}

/// The processes found, and the pids of processes of that name that are not trusted.
#[derive(Default)]
pub struct Found {
    pub trusted: Vec<Process>,
    pub ignored: Vec<u32>,
}

/// Every trusted process whose `comm` and executable are `program`.
pub fn scan(program: &str, caps: &[u32]) -> Found {
    let Ok(proc) = std::fs::read_dir("/proc") else {
        return Found::default();
    };
    // The kernel cuts `comm` to 15 bytes ("ovn-controller" fits, longer names would not).
    let comm_name = &program[..program.len().min(15)];
    let mut out = Found::default();
    for e in proc.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let dir = Path::new("/proc").join(pid.to_string());
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        if comm.trim() != comm_name {
            continue;
        }
        if !trusted(&dir, program, caps) {
            out.ignored.push(pid);
            continue;
        }
        // A dead process not yet reaped by its parent (a zombie) has an empty command line
        // and serves nothing.
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        if cmdline.is_empty() {
            continue;
        }
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .skip(1)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let netns = crate::netns::netns_of_pid(pid);
        out.trusted.push(Process { pid, args, netns });
    }
    out.trusted.sort_by_key(|p| p.pid);
    out.ignored.sort_unstable();
    out
}

/// Whether the process at `dir` is a `program` that root started (see the module's text).
fn trusted(dir: &Path, program: &str, caps: &[u32]) -> bool {
    let exe = std::fs::read_link(dir.join("exe")).unwrap_or_default();
    let named = exe
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.trim_end_matches(" (deleted)") == program);
    // The magic link's metadata is the executable's own inode, wherever it lives.
    let root_owned = std::fs::metadata(dir.join("exe"))
        .is_ok_and(|m| m.is_file() && m.uid() == 0 && m.permissions().mode() & 0o022 == 0);
    let same_userns = std::fs::read_link(dir.join("ns/user")).ok()
        == std::fs::read_link("/proc/self/ns/user").ok();
    named && root_owned && same_userns && privileged(dir, caps)
}

/// Effective uid 0, or one of `caps` effective.
fn privileged(dir: &Path, caps: &[u32]) -> bool {
    let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
        return false;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let euid_root = field("Uid:")
        .and_then(|u| u.split_whitespace().nth(1))
        .is_some_and(|u| u == "0");
    let effective = field("CapEff:")
        .and_then(|c| u64::from_str_radix(c, 16).ok())
        .unwrap_or(0);
    euid_root || caps.iter().any(|c| effective & (1 << c) != 0)
}
