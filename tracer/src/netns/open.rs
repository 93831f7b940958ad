//! Opening a namespace by what it *is* (its nsfs inode), not by where it was found.
//!
//! A path such as `/proc/PID/ns/net` names whatever namespace that pid has now: once the
//! container exits and the pid is reused, the same path names another tenant's namespace, and
//! an attach or a netlink detach done there would touch the wrong interfaces. Every entry
//! therefore opens the file, checks with `fstat`/`fstatfs` on the open descriptor that it is
//! the nsfs inode that was discovered, and enters that descriptor. If the path now names
//! another namespace, the one we want is looked for under its other names (`/run/netns`, other
//! processes); if nothing holds it any more, it is gone, which is an error of its own.
//!
//! Descriptors are held only while in use, never for the whole run: holding a deleted
//! namespace open would keep its links (and a veth peer in a tenant's bridge) alive, and one
//! descriptor per namespace runs out of files on a host with thousands of them.

use std::{
    fs::File,
    os::{fd::AsRawFd as _, unix::fs::MetadataExt as _},
    path::{Path, PathBuf},
};

use anyhow::Result;

use super::table::{Netns, NAMED_NETNS_DIR};

/// `NSFS_MAGIC` from `linux/magic.h`: the filesystem of `/proc/PID/ns/*` and bind-mounted
/// namespace files.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// Opens `netns`, verified to be the namespace discovered (same inode, on nsfs).
pub fn open_verified(netns: &Netns) -> Result<File> {
    match open_if(&netns.path, netns.ino) {
        Ok(Some(file)) => return Ok(file),
        // Our own limit, not a namespace that went away: looking elsewhere would fail alike.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
            return Err(anyhow::Error::new(e)
                .context(format!("cannot open network namespace {}", netns.name)));
        }
        Ok(None) | Err(_) => {}
    }
    // The path names another namespace now, or nothing: find ours under another name.
    for path in other_holders() {
        if path == netns.path {
            continue;
        }
        if let Ok(Some(file)) = open_if(&path, netns.ino) {
            tracing::debug!(
                "network namespace {} moved from {} to {}",
                netns.name,
                netns.path.display(),
                path.display()
            );
            return Ok(file);
        }
    }
    Err(anyhow::Error::new(NetnsGone {
        name: netns.name.clone(),
        ino: netns.ino,
    }))
}

/// The namespace no longer exists: nothing holds it under any name. A type, so that callers
/// can tell it from not being allowed to look (`anyhow::Error::downcast_ref`).
#[derive(Debug)]
pub struct NetnsGone {
    name: String,
    ino: u32,
}

impl std::fmt::Display for NetnsGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "network namespace {} (inode {}) no longer exists",
            self.name, self.ino
        )
    }
}

impl std::error::Error for NetnsGone {}

/// The namespace file at `path` if it is nsfs inode `ino`; `None` if it is another one.
fn open_if(path: &Path, ino: u32) -> std::io::Result<Option<File>> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.ino() != u64::from(ino) || !is_nsfs(&file)? {
        return Ok(None);
    }
    Ok(Some(file))
}

fn is_nsfs(file: &File) -> std::io::Result<bool> {
    // SAFETY: fstatfs fills a zeroed statfs for a valid fd.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between libcs.
    Ok(st.f_type as i64 == NSFS_MAGIC)
}

/// Every place a namespace can be opened from: named ones first (cheap, stable), then each
/// process's. Lazily, so the first match ends the scan.
fn other_holders() -> impl Iterator<Item = PathBuf> {
    let named = std::fs::read_dir(NAMED_NETNS_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path());
    let processes = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .map(|e| e.path().join("ns/net"));
    named.chain(processes)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::netns::{table::inode, NetnsGuard};

    /// Named namespaces made for one test, deleted however it ends.
    struct Scratch(Vec<String>);

    impl Scratch {
        fn add(&mut self, name: &str) -> Netns {
            let name = format!("pt-unit-{}-{name}", std::process::id());
            ip(&["netns", "add", &name]);
            self.0.push(name.clone());
            let path = Path::new(NAMED_NETNS_DIR).join(&name);
            Netns {
                ino: inode(&path).unwrap(),
                name,
                path,
            }
        }

        fn delete(&mut self, ns: &Netns) {
            ip(&["netns", "del", &ns.name]);
            self.0.retain(|n| *n != ns.name);
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            for n in &self.0 {
                let _ = Command::new("ip").args(["netns", "del", n]).status();
            }
        }
    }

    fn ip(args: &[&str]) {
        let status = Command::new("ip").args(args).status().unwrap();
        assert!(status.success(), "ip {args:?} (these tests run as root)");
    }

    fn thread_netns() -> u32 {
        inode(Path::new("/proc/thread-self/ns/net")).unwrap()
    }

    /// A path reused by another namespace (a pid reused, a name deleted and made again) is
    /// never entered in place of the one discovered.
    #[test]
    fn a_reused_path_is_not_entered() {
        let mut scratch = Scratch(Vec::new());
        let old = scratch.add("reused");
        scratch.delete(&old);
        let new = scratch.add("reused");
        assert_eq!(old.path, new.path);
        assert_ne!(old.ino, new.ino, "the kernel gave the same inode twice");
        let before = thread_netns();
        let err = NetnsGuard::enter(&old)
            .err()
            .expect("entered a reused path");
        assert!(err.to_string().contains("no longer exists"), "{err:#}");
        assert_eq!(thread_netns(), before);
    }

    /// The namespace is found under another name when the one it was discovered by now names
    /// another namespace.
    #[test]
    fn a_namespace_is_found_under_another_name() {
        let mut scratch = Scratch(Vec::new());
        let wanted = scratch.add("wanted");
        let other = scratch.add("other");
        let moved = Netns {
            path: other.path.clone(),
            ..wanted.clone()
        };
        {
            let _inside = NetnsGuard::enter(&moved).unwrap();
            assert_eq!(thread_netns(), wanted.ino);
        }
        assert_ne!(thread_netns(), wanted.ino);
    }

    /// Files that are not namespaces are refused even if their inode number matches.
    #[test]
    fn only_nsfs_files_are_namespaces() {
        let file = std::env::current_exe().unwrap();
        let ino = u32::try_from(std::fs::metadata(&file).unwrap().ino()).unwrap();
        assert!(open_if(&file, ino).unwrap().is_none());
    }
}
