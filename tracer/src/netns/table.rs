//! Maps network namespace inode numbers (what the probes report) to names and paths.

use std::{
    collections::BTreeMap,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context as _, Result};

/// Directory where `ip netns add` creates named namespaces.
pub const NAMED_NETNS_DIR: &str = "/run/netns";
/// Label for the namespace pathtrace itself runs in.
pub const OWN_NETNS_LABEL: &str = "root";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Netns {
    /// Inode number of the namespace (what `lsns` shows and the probes report).
    pub ino: u32,
    /// Human name: the `ip netns` name, [`OWN_NETNS_LABEL`], or `netns:[INODE]`.
    pub name: String,
    /// A file that can be opened to enter the namespace.
    pub path: PathBuf,
}

#[derive(Clone, Default)]
pub struct NetnsTable {
    by_ino: BTreeMap<u32, Netns>,
}

impl NetnsTable {
    /// The namespace pathtrace runs in, every named one under /run/netns, and the anonymous
    /// ones that only a process holds (containers, virt-launcher pods), deduplicated by inode.
    /// Processes are read with one `readlink` each, so a host with thousands of them costs
    /// milliseconds, not a process spawn per namespace.
    pub fn discover() -> Result<Self> {
        let mut table = Self::default();
        let own = Path::new("/proc/self/ns/net");
        table.insert(inode(own)?, OWN_NETNS_LABEL.into(), own.to_path_buf());
        if let Ok(dir) = std::fs::read_dir(NAMED_NETNS_DIR) {
            let mut entries: Vec<_> = dir.flatten().map(|e| e.path()).collect();
            entries.sort();
            for path in entries {
                // A stale mount point (namespace gone) cannot be stat'ed as nsfs: skip it.
                if let Ok(ino) = inode(&path) {
                    let name = path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into();
                    table.insert(ino, name, path);
                }
            }
        }
        table.add_process_namespaces();
        Ok(table)
    }

    fn add_process_namespaces(&mut self) {
        let Ok(proc) = std::fs::read_dir("/proc") else {
            return;
        };
        let mut pids: Vec<u32> = proc
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        // Lowest pid first: the namespace is named after its oldest holder, which is stable
        // across runs (the container's init, not a short-lived `ip netns exec`).
        pids.sort_unstable();
        for pid in pids {
            // A process that exited meanwhile, or a kernel thread we may not inspect: skip.
            let Some(ino) = netns_of_pid(pid) else {
                continue;
            };
            let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
            if !self.by_ino.contains_key(&ino) {
                self.insert(ino, format!("pid:{pid}"), path);
            }
        }
    }

    /// Every known namespace, ordered by inode.
    pub fn all(&self) -> impl Iterator<Item = &Netns> {
        self.by_ino.values()
    }

    fn insert(&mut self, ino: u32, name: String, path: PathBuf) {
        self.by_ino.entry(ino).or_insert(Netns { ino, name, path });
    }

    /// Resolves what the user typed: an `ip netns` name, or a path to an nsfs file
    /// (`/proc/PID/ns/net`).
    pub fn resolve(&mut self, spec: &str) -> Result<Netns> {
        if spec.contains('/') {
            let path = PathBuf::from(spec);
            let ino = inode(&path)?;
            let name = self
                .by_ino
                .get(&ino)
                .map(|n| n.name.clone())
                .unwrap_or_else(|| spec.to_string());
            self.insert(ino, name, path);
            return Ok(self.by_ino[&ino].clone());
        }
        if let Some(ns) = self.by_ino.values().find(|n| n.name == spec) {
            return Ok(ns.clone());
        }
        // Anonymous namespaces are named after a pid; listing hundreds of them helps nobody.
        let known: Vec<_> = self
            .by_ino
            .values()
            .map(|n| n.name.as_str())
            .filter(|n| !n.starts_with("pid:"))
            .collect();
        bail!(
            "unknown network namespace '{spec}' (named: {}; others by /proc/PID/ns/net or pid:PID)",
            known.join(", ")
        )
    }

    /// The namespace pathtrace itself runs in.
    pub fn own(&self) -> Netns {
        self.by_ino
            .values()
            .find(|n| n.name == OWN_NETNS_LABEL)
            .cloned()
            .expect("discover() always inserts the own namespace")
    }

    pub fn get(&self, ino: u32) -> Option<&Netns> {
        self.by_ino.get(&ino)
    }

    /// A printable name for an inode, also for namespaces pathtrace does not know.
    pub fn name_of(&self, ino: u32) -> String {
        match self.by_ino.get(&ino) {
            Some(n) => n.name.clone(),
            None if ino == 0 => "?".into(),
            None => format!("netns:[{ino}]"),
        }
    }
}

/// The network namespace inode of a process, if it still exists and may be inspected.
pub fn netns_of_pid(pid: u32) -> Option<u32> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    parse_ns_link(&link.to_string_lossy())
}

/// Parses the target of a `/proc/PID/ns/net` link, `net:[4026531840]`.
fn parse_ns_link(link: &str) -> Option<u32> {
    link.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// Inode number of a namespace file; errors if it is not a network namespace.
pub fn inode(path: &Path) -> Result<u32> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot stat {}", path.display()))?;
    // nsfs inode numbers are 32-bit (proc_inum).
    u32::try_from(meta.ino()).with_context(|| format!("{} is not an nsfs file", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_namespace_is_always_known() {
        let table = NetnsTable::discover().unwrap();
        let own = table.own();
        assert_eq!(own.name, OWN_NETNS_LABEL);
        assert_eq!(own.ino, inode(Path::new("/proc/self/ns/net")).unwrap());
        assert_eq!(table.name_of(own.ino), OWN_NETNS_LABEL);
    }

    #[test]
    fn namespace_links_parse() {
        assert_eq!(parse_ns_link("net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_ns_link("mnt:[4026531840]"), None);
        assert_eq!(parse_ns_link("net:[x]"), None);
    }

    #[test]
    fn process_namespaces_are_found() {
        // This test process's own namespace is known under "root", never twice.
        let table = NetnsTable::discover().unwrap();
        let own = table.own().ino;
        assert_eq!(table.all().filter(|n| n.ino == own).count(), 1);
    }

    #[test]
    fn unknown_inode_has_a_printable_name() {
        let table = NetnsTable::default();
        assert_eq!(table.name_of(4026532000), "netns:[4026532000]");
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let mut table = NetnsTable::discover().unwrap();
        let err = table
            .resolve("no-such-ns-pathtrace")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown network namespace 'no-such-ns-pathtrace'"),
            "{err}"
        );
        assert!(err.contains(OWN_NETNS_LABEL), "{err}");
    }
}
