//! A set of network namespaces and processes that disappears on drop.

use std::{
    process::Child,
    sync::atomic::{AtomicU32, Ordering},
};

use anyhow::Result;

use crate::cmd::{ip, run};

static LABS: AtomicU32 = AtomicU32::new(0);

pub struct Lab {
    /// Unique per lab: tests run in parallel and CI may run next to a demo.
    prefix: String,
    namespaces: Vec<String>,
    children: Vec<Child>,
    /// Per-lab MAC prefix, so that filters of parallel labs never match each other's packets.
    mac_seed: [u8; 3],
    macs: u8,
    workdir: Option<std::path::PathBuf>,
    /// Links created in the namespace the tests run in (a hypervisor's root namespace).
    host_links: Vec<String>,
    /// (family, table) of nftables tables in the host's own namespace.
    nft_tables: Vec<(String, String)>,
}

impl Lab {
    pub fn new(tag: &str) -> Self {
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        Self {
            prefix: format!("pt{}{}-{tag}", pid % 100_000, n),
            namespaces: Vec::new(),
            children: Vec::new(),
            mac_seed: [(pid >> 8) as u8, pid as u8, n as u8],
            macs: 0,
            workdir: None,
            host_links: Vec::new(),
            nft_tables: Vec::new(),
        }
    }

    /// Creates a namespace named `<prefix>-<name>` with loopback up; returns its full name.
    pub fn netns(&mut self, name: &str) -> Result<String> {
        let full = format!("{}-{name}", self.prefix);
        run("ip", &["netns", "add", &full])?;
        self.namespaces.push(full.clone());
        ip(&full, &["link", "set", "lo", "up"])?;
        Ok(full)
    }

    /// Creates a namespace named the way an OpenStack agent names its own, `<kind>-<id>`
    /// (`qdhcp-<network>`), with this lab's prefix as the id; returns its full name.
    pub fn agent_netns(&mut self, kind: &str) -> Result<String> {
        let full = format!("{kind}-{}", self.prefix);
        run("ip", &["netns", "add", &full])?;
        self.namespaces.push(full.clone());
        ip(&full, &["link", "set", "lo", "up"])?;
        Ok(full)
    }

    /// A locally administered unicast MAC unique to this lab.
    pub fn next_mac(&mut self) -> String {
        self.macs += 1;
        let [a, b, c] = self.mac_seed;
        format!("02:{a:02x}:{b:02x}:{c:02x}:00:{:02x}", self.macs)
    }

    /// A veth pair with one end in each namespace, both up.
    pub fn veth(
        &mut self,
        (ns_a, name_a): (&str, &str),
        (ns_b, name_b): (&str, &str),
    ) -> Result<()> {
        let mac_a = self.next_mac();
        let mac_b = self.next_mac();
        run(
            "ip",
            &[
                "link", "add", name_a, "netns", ns_a, "address", &mac_a, "type", "veth", "peer",
                "name", name_b, "netns", ns_b, "address", &mac_b,
            ],
        )?;
        ip(ns_a, &["link", "set", name_a, "up"])?;
        ip(ns_b, &["link", "set", name_b, "up"])?;
        Ok(())
    }

    /// A Linux bridge with the given ports, all up.
    pub fn bridge(&mut self, netns: &str, name: &str, ports: &[&str]) -> Result<()> {
        ip(netns, &["link", "add", name, "type", "bridge"])?;
        for port in ports {
            ip(netns, &["link", "set", port, "master", name])?;
        }
        ip(netns, &["link", "set", name, "up"])?;
        Ok(())
    }

    /// A real tun/tap device in TAP mode (no process attached: carrier stays down).
    pub fn tap(&mut self, netns: &str, name: &str) -> Result<()> {
        let mac = self.next_mac();
        // A VM boots with the tun module unloaded and no /dev/net/tun until it is.
        if !std::path::Path::new("/dev/net/tun").exists() {
            run("modprobe", &["tun"])?;
        }
        ip(netns, &["tuntap", "add", "dev", name, "mode", "tap"])?;
        ip(netns, &["link", "set", name, "address", &mac, "up"])?;
        Ok(())
    }

    /// A macvlan (bridge mode) on `lower`, up.
    pub fn macvlan(&mut self, netns: &str, name: &str, lower: &str) -> Result<()> {
        let mac = self.next_mac();
        ip(
            netns,
            &[
                "link", "add", name, "link", lower, "address", &mac, "type", "macvlan", "mode",
                "bridge",
            ],
        )?;
        ip(netns, &["link", "set", name, "up"])?;
        Ok(())
    }

    pub fn mtu(&mut self, netns: &str, dev: &str, mtu: u32) -> Result<()> {
        ip(netns, &["link", "set", dev, "mtu", &mtu.to_string()])?;
        Ok(())
    }

    pub fn addr(&mut self, netns: &str, dev: &str, cidr: &str) -> Result<()> {
        ip(netns, &["addr", "add", cidr, "dev", dev])?;
        Ok(())
    }

    pub fn mac_of(&self, netns: &str, dev: &str) -> Result<String> {
        let out = ip(netns, &["-br", "link", "show", "dev", dev])?;
        out.split_whitespace()
            .nth(2)
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("no MAC in `{out}`"))
    }

    /// Deletes `name` (a link in the test's own namespace) at teardown; deleting one end of a
    /// veth removes both.
    pub fn host_link(&mut self, name: &str) {
        self.host_links.push(name.to_string());
    }

    /// Keeps a process to be killed at teardown.
    pub fn adopt(&mut self, child: Child) {
        self.children.push(child);
    }

    /// A scratch directory for config, lease and pid files, removed at teardown.
    pub fn workdir(&mut self) -> Result<std::path::PathBuf> {
        if let Some(dir) = &self.workdir {
            return Ok(dir.clone());
        }
        let dir = std::env::temp_dir().join(&self.prefix);
        std::fs::create_dir_all(&dir)?;
        self.workdir = Some(dir.clone());
        Ok(dir)
    }

    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Links the lab created in the host's own namespace.
    pub fn host_links(&self) -> &[String] {
        &self.host_links
    }

    /// Adds an nftables table (`rules` creates it) in the host's own namespace; the lab
    /// deletes it when it goes, also when a test panics, so that it cannot break the tests after.
    pub fn nft_table(&mut self, family: &str, table: &str, rules: &str) -> Result<()> {
        self.nft_tables
            .push((family.to_string(), table.to_string()));
        run("nft", &[rules]).map(drop)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for (family, table) in &self.nft_tables {
            let _ = run("nft", &["delete", "table", family, table]);
        }
        for link in self.host_links.iter().rev() {
            let _ = run("ip", &["link", "del", link]);
        }
        for ns in self.namespaces.iter().rev() {
            // Processes started with `ip netns exec` outside `adopt` (daemons) die here.
            if let Ok(pids) = run("ip", &["netns", "pids", ns]) {
                for pid in pids
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok())
                {
                    // SAFETY: plain kill(2).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                eprintln!("testbed: cannot delete netns {ns}: {e:#}");
            }
        }
        if let Some(dir) = &self.workdir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
