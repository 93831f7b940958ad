//! libvirt's virtual networks as it configures their dnsmasq: one `<network>.conf` per network
//! in `/var/lib/libvirt/dnsmasq/` (`interface=virbr0`, `dhcp-range=`, `dhcp-hostsfile=` beside
//! it). The files outlive a dnsmasq that died or never started, so pathtrace can still say
//! where the server should have been, and which address the MAC would have had.

use std::path::Path;

use super::{dnsmasq, untrusted};

/// Where libvirt writes its networks' dnsmasq configuration by default.
pub const DEFAULT_DIR: &str = "/var/lib/libvirt/dnsmasq";

/// Networks read at most: a host has a handful.
const MAX_NETWORKS: usize = 256;

/// One network's configuration.
#[derive(Debug)]
pub struct Network {
    /// The conf file, as found.
    pub conf: String,
    pub config: dnsmasq::Config,
    pub problems: Vec<String>,
}

/// Every `*.conf` in `dir`, parsed; files are read inside `dir` only (a hostsfile named
/// elsewhere is a problem, not followed).
pub fn configured(dir: &Path) -> Vec<Network> {
    let Ok(names) = untrusted::list_in_root(dir, ".") else {
        return Vec::new();
    };
    let mut confs: Vec<String> = names.into_iter().filter(|n| n.ends_with(".conf")).collect();
    confs.sort();
    confs.truncate(MAX_NETWORKS);
    let read = |file: &str| {
        let inside = Path::new(file)
            .strip_prefix(dir)
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_else(|_| file.to_string());
        anyhow::ensure!(
            !inside.starts_with('/'),
            "{} is outside {}: not read",
            untrusted::shown(file),
            dir.display()
        );
        untrusted::read_in_root(dir, &inside)
    };
    confs
        .into_iter()
        .map(|name| {
            let path = dir.join(&name).display().to_string();
            let (mut config, mut problems) =
                dnsmasq::parse_args(&[format!("--conf-file={path}")], &read);
            for file in &config.hostsfiles {
                match read(file).and_then(|text| dnsmasq::parse_hostsfile(&text, file)) {
                    Ok(h) => config.hosts.extend(h),
                    Err(e) => problems.push(format!("{e:#}")),
                }
            }
            Network {
                conf: path,
                config,
                problems,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_s_conf_and_hostsfile_are_read_inside_the_directory() {
        let dir = std::env::temp_dir().join(format!("pt-libvirt-dnsmasq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hosts = dir.join("default.hostsfile");
        // As libvirt writes them for `virsh net-start default`.
        std::fs::write(&hosts, "52:54:00:6c:3c:01,192.168.122.10,vm1\n").unwrap();
        std::fs::write(
            dir.join("default.conf"),
            format!(
                "strict-order\ninterface=virbr0\nbind-dynamic\n\
                 dhcp-range=192.168.122.2,192.168.122.254,255.255.255.0\n\
                 dhcp-hostsfile={}\n",
                hosts.display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("other.conf"),
            "interface=virbr1\ndhcp-hostsfile=/etc/shadow\n",
        )
        .unwrap();
        std::fs::write(dir.join("notes.txt"), "interface=virbr9\n").unwrap();
        let nets = configured(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(nets.len(), 2);
        let default = &nets[0];
        assert_eq!(default.config.interfaces, ["virbr0"]);
        assert_eq!(default.config.hosts.len(), 1);
        assert!(default.problems.is_empty(), "{:?}", default.problems);
        // A hostsfile outside the directory is named, not read.
        assert!(nets[1].config.hosts.is_empty());
        assert!(
            nets[1].problems[0].contains("outside"),
            "{:?}",
            nets[1].problems
        );
    }
}
