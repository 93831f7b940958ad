//! DHCP servers: every running dnsmasq (Neutron's in `qdhcp-<network>` namespaces, libvirt's,
//! a lab's), the namespace and interfaces it serves, and its static host entries, so the
//! server a MAC should get its lease from, and the address it should get, are known before a
//! packet is seen.

use std::{net::Ipv4Addr, path::Path};

use anyhow::{bail, Result};

pub use super::processes::Found;
use super::{
    processes,
    untrusted::{self, shown},
};
use crate::{mac::Mac, topology::model::HostEntry};

/// What a dnsmasq command line (and the `--conf-file` it names) configures.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub interfaces: Vec<String>,
    pub hostsfiles: Vec<String>,
    pub hosts: Vec<HostEntry>,
    pub ranges: Vec<String>,
    pub conf_files: Vec<String>,
}

/// Parses `argv` (without argv[0]). Conf files are read through `read_file` so tests need no
/// files; a conf file that cannot be read is reported, not fatal.
pub fn parse_args(
    args: &[String],
    read_file: &dyn Fn(&str) -> Result<String>,
) -> (Config, Vec<String>) {
    let mut cfg = Config::default();
    let mut problems = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(opt) = arg.strip_prefix("--") else {
            // Short options (-i IFACE) take their value from the next argument.
            match arg.as_str() {
                "-i" | "-F" | "-C" if i < args.len() => {
                    let key = match arg.as_str() {
                        "-i" => "interface",
                        "-F" => "dhcp-range",
                        _ => "conf-file",
                    };
                    apply(
                        &mut cfg,
                        &mut problems,
                        key,
                        &args[i],
                        "command line",
                        read_file,
                    );
                    i += 1;
                }
                _ => {}
            }
            continue;
        };
        let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
        apply(
            &mut cfg,
            &mut problems,
            key,
            value,
            "command line",
            read_file,
        );
    }
    (cfg, problems)
}

fn apply(
    cfg: &mut Config,
    problems: &mut Vec<String>,
    key: &str,
    value: &str,
    origin: &str,
    read_file: &dyn Fn(&str) -> Result<String>,
) {
    match key {
        "interface" => cfg
            .interfaces
            .extend(value.split(',').filter(|v| !v.is_empty()).map(String::from)),
        "dhcp-range" => cfg.ranges.push(value.to_string()),
        "dhcp-hostsfile" | "dhcp-hostsdir" => cfg.hostsfiles.push(value.to_string()),
        "dhcp-host" => match parse_host(value, origin) {
            Ok(h) => cfg.hosts.push(h),
            Err(e) => problems.push(format!("{}: {e:#}", shown(origin))),
        },
        // `--conf-file=` (empty, as Neutron passes it) means "no conf file".
        "conf-file" if !value.is_empty() => {
            cfg.conf_files.push(value.to_string());
            match read_file(value) {
                Ok(text) => {
                    for (n, line) in text.lines().enumerate() {
                        let line = line.trim();
                        if line.is_empty() || line.starts_with('#') {
                            continue;
                        }
                        let (k, v) = line.split_once('=').unwrap_or((line, ""));
                        // A conf file naming another conf file could loop; dnsmasq itself
                        // only allows that through conf-dir, which we do not follow.
                        if k.trim() != "conf-file" {
                            apply(
                                cfg,
                                problems,
                                k.trim(),
                                v.trim(),
                                &format!("{value}:{}", n + 1),
                                read_file,
                            );
                        }
                    }
                }
                Err(e) => problems.push(format!("{}: {e:#}", shown(value))),
            }
        }
        _ => {}
    }
}

/// Parses a host file: one `dhcp-host` value per line, `#` comments.
pub fn parse_hostsfile(text: &str, file: &str) -> Result<Vec<HostEntry>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_host(line, &format!("{file}:{}", n + 1))?);
    }
    Ok(out)
}

/// `[hwaddr...][,id:..][,set:..][,tag:..][,ipaddr][,hostname][,lease][,ignore]`
pub fn parse_host(value: &str, origin: &str) -> Result<HostEntry> {
    let mut entry = HostEntry {
        macs: Vec::new(),
        ip: None,
        hostname: None,
        lease_time: None,
        ignore: false,
        origin: origin.to_string(),
    };
    let mut has_client_id = false;
    // Errors say which field, never what it held: the text may come from any file.
    for (n, field) in value.split(',').map(str::trim).enumerate() {
        let n = n + 1;
        if field.is_empty() {
            continue;
        }
        if field.starts_with("id:") {
            has_client_id = true;
        } else if field.starts_with("set:") || field.starts_with("tag:") || field.starts_with('[') {
            // Tags and IPv6 addresses do not affect which IPv4 lease a MAC gets.
        } else if field == "ignore" {
            entry.ignore = true;
        } else if let Ok(ip) = field.parse::<Ipv4Addr>() {
            entry.ip = Some(ip);
        } else if field.contains(':') || field.contains('-') && field.len() == 17 {
            // dnsmasq accepts `*` wildcards in MACs; such an entry matches several clients
            // and is kept only if fully specified.
            if field.contains('*') {
                continue;
            }
            let Ok(mac) = field.parse::<Mac>() else {
                bail!(
                    "{}: field {n} of the dhcp-host entry is not a MAC address",
                    shown(origin)
                );
            };
            entry.macs.push(mac);
        } else if is_lease_time(field) {
            entry.lease_time = Some(field.to_string());
        } else if field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
        {
            entry.hostname = Some(field.to_string());
        } else {
            bail!(
                "{}: field {n} of the dhcp-host entry is not understood",
                shown(origin)
            );
        }
    }
    if entry.macs.is_empty() && !has_client_id && entry.hostname.is_none() {
        bail!("{}: the dhcp-host entry names no client", shown(origin));
    }
    Ok(entry)
}

fn is_lease_time(f: &str) -> bool {
    f == "infinite"
        || f.strip_suffix(['h', 'm', 's', 'd', 'w'])
            .unwrap_or(f)
            .bytes()
            .all(|c| c.is_ascii_digit())
            && !f.is_empty()
}

/// Every trusted dnsmasq process (see [`processes::scan`]).
pub fn processes() -> Found {
    processes::scan(PROGRAM, DHCP_CAPS)
}

/// What a running dnsmasq is called, by `comm` and by its executable's name.
const PROGRAM: &str = "dnsmasq";
/// Capabilities that let a process serve DHCP (bind port 67, raw sockets, ARP).
const DHCP_CAPS: &[u32] = &[
    processes::CAP_NET_BIND_SERVICE,
    processes::CAP_NET_ADMIN,
    processes::CAP_NET_RAW,
];

/// Reads a file as the dnsmasq process sees it: inside `/proc/PID/root` (a dnsmasq in a
/// container with its own mount namespace is read correctly, and no path it names leads out of
/// its root), a regular file of bounded size only.
pub fn read_as(pid: u32, path: &str) -> Result<String> {
    untrusted::read_in_root(&root_of(pid), path)
}

/// The root directory process `pid` sees.
pub fn root_of(pid: u32) -> std::path::PathBuf {
    Path::new("/proc").join(pid.to_string()).join("root")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn neutron_command_line() {
        // From seed 004.
        let line = "--no-hosts --no-resolv --strict-order --bind-interfaces --interface=tap26c9b807-7c --except-interface=lo --pid-file=/var/lib/neutron/dhcp/5f83/pid --dhcp-hostsfile=/var/lib/neutron/dhcp/5f83/host --dhcp-optsfile=/var/lib/neutron/dhcp/5f83/opts --leasefile-ro --dhcp-range=tag0,10.10.10.0,static,120s --dhcp-lease-max=256 --conf-file= --domain=openstacklocal";
        let (cfg, problems) = parse_args(&args(line), &|_| bail!("no files"));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(cfg.interfaces, ["tap26c9b807-7c"]);
        assert_eq!(cfg.hostsfiles, ["/var/lib/neutron/dhcp/5f83/host"]);
        assert_eq!(cfg.ranges, ["tag0,10.10.10.0,static,120s"]);
        assert!(cfg.conf_files.is_empty());
    }

    #[test]
    fn conf_file_and_short_options() {
        let (cfg, problems) = parse_args(
            &args("-i eth1 -C /etc/d.conf --dhcp-host=02:00:00:00:00:09,10.0.0.9"),
            &|p| {
                assert_eq!(p, "/etc/d.conf");
                Ok("# comment\ninterface=eth2\ndhcp-host=02:00:00:00:00:08,10.0.0.8,h8\n".into())
            },
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(cfg.interfaces, ["eth1", "eth2"]);
        assert_eq!(cfg.hosts.len(), 2);
        assert_eq!(cfg.hosts[0].origin, "/etc/d.conf:3");
        assert_eq!(cfg.hosts[0].hostname.as_deref(), Some("h8"));
    }

    #[test]
    fn host_file_formats() {
        let hosts = parse_hostsfile(
            "fa:16:3e:fe:c7:87,host-10-10-10-2.openstacklocal,10.10.10.2\n\
             # a comment\n\
             02:00:00:00:00:01,set:tag1,10.0.0.1,infinite\n\
             02:00:00:00:00:02,02:00:00:00:00:03,ignore\n\
             id:01:02:03,10.0.0.4\n",
            "host",
        )
        .unwrap();
        assert_eq!(hosts.len(), 4);
        assert_eq!(hosts[0].macs[0].to_string(), "fa:16:3e:fe:c7:87");
        assert_eq!(hosts[0].ip, Some(Ipv4Addr::new(10, 10, 10, 2)));
        assert_eq!(
            hosts[0].hostname.as_deref(),
            Some("host-10-10-10-2.openstacklocal")
        );
        assert_eq!(hosts[0].origin, "host:1");
        assert_eq!(hosts[1].lease_time.as_deref(), Some("infinite"));
        assert_eq!(hosts[2].macs.len(), 2);
        assert!(hosts[2].ignore);
        assert!(hosts[3].macs.is_empty());
    }

    #[test]
    fn malformed_host_entries_are_errors() {
        for bad in [
            "zz:16:3e:fe:c7:87,10.0.0.1",
            "set:x,10.0.0.1",
            "02:00:00:00:00:01,a b",
        ] {
            assert!(parse_hostsfile(bad, "f").is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_place_never_the_content() {
        // A file that is not a host file (here, shadow(5)) must not be quoted back.
        for line in [
            "root:$6$s3cr3tsalt$hashhashhash:19000:0:99999:7:::",
            "daemon:*:19000:0:99999:7:::",
            "s3cr3t token with spaces",
        ] {
            let err = format!("{:#}", parse_hostsfile(line, "/etc/shadow").unwrap_err());
            assert!(err.starts_with("/etc/shadow:1: "), "{err}");
            for secret in ["s3cr3t", "hash", "$6$", "daemon", "99999"] {
                assert!(!err.contains(secret), "{err}");
            }
        }
        let (_, problems) = parse_args(&args("--dhcp-host=root:$6$s3cr3t"), &|_| bail!("no files"));
        assert!(
            problems.iter().all(|p| !p.contains("s3cr3t")),
            "{problems:?}"
        );
    }
}
