//! A real DHCP server (dnsmasq) and real DHCP clients (ISC dhclient, busybox udhcpc).

use std::{
    os::unix::fs::PermissionsExt as _,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use crate::{
    cmd::{in_netns, ip},
    Lab,
};

pub struct DhcpServerConfig<'a> {
    pub netns: &'a str,
    pub iface: &'a str,
    /// First and last address of the dynamic pool.
    pub range: (&'a str, &'a str),
    /// Static leases (MAC, IP), as Neutron writes them into dnsmasq's host file.
    pub hosts: &'a [(&'a str, &'a str)],
    /// The Neutron DHCP agent's state directory for this network: when given, the host file
    /// and the `interface` file go there, as the agent writes them.
    pub agent_state: Option<&'a std::path::Path>,
}

/// Starts dnsmasq (DHCP only, no DNS) in the foreground inside `netns`; the lab kills it.
pub fn start_dnsmasq(lab: &mut Lab, cfg: &DhcpServerConfig) -> Result<()> {
    let dir = lab.workdir()?;
    let hostsfile = match cfg.agent_state {
        Some(state) => {
            std::fs::create_dir_all(state)?;
            std::fs::write(state.join("interface"), format!("{}\n", cfg.iface))?;
            state.join("host")
        }
        None => dir.join(format!("{}.hosts", cfg.netns)),
    };
    let lines: String = cfg
        .hosts
        .iter()
        .map(|(mac, ip)| format!("{mac},{ip}\n"))
        .collect();
    std::fs::write(&hostsfile, lines)?;
    let leases = dir.join(format!("{}.leases", cfg.netns));
    let mut command = Command::new("ip");
    command
        .args([
            "netns",
            "exec",
            cfg.netns,
            "dnsmasq",
            "--keep-in-foreground",
        ])
        .args([
            "--port=0",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--user=root",
        ])
        .arg(format!("--interface={}", cfg.iface))
        .arg(format!(
            "--dhcp-range={},{},255.255.255.0,1h",
            cfg.range.0, cfg.range.1
        ))
        .arg(format!("--dhcp-hostsfile={}", hostsfile.display()))
        .arg(format!("--dhcp-leasefile={}", leases.display()))
        .arg("--pid-file=")
        .arg("--log-dhcp")
        .arg("--log-facility=-");
    run_dnsmasq(lab, cfg.netns, &mut command)
}

/// Starts the dnsmasq `command` in the background (the lab kills it) and waits until it
/// listens on UDP 67 in `netns`.
fn run_dnsmasq(lab: &mut Lab, netns: &str, command: &mut Command) -> Result<()> {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start dnsmasq (is dnsmasq-base installed? `cargo xtask setup`)")?;
    lab.adopt(child);
    wait_for(
        Duration::from_secs(10),
        "dnsmasq listening on UDP 67",
        || Ok(in_netns(netns, "ss", &["-Hlun", "sport", "=", "67"])?.contains(":67")),
    )
}

/// Starts dnsmasq the way libvirt runs a virtual network's: everything in one `--conf-file`
/// (`interface=`, `bind-dynamic`, `dhcp-range=`, `dhcp-hostsfile=` naming the host file),
/// `--leasefile-ro`. `conf` and `hosts` are the two files' lines; the lab kills it.
pub fn start_libvirt_dnsmasq(
    lab: &mut Lab,
    netns: &str,
    conf: &[String],
    hosts: &[String],
) -> Result<()> {
    let dir = lab.workdir()?;
    let hostsfile = dir.join("default.hostsfile");
    std::fs::write(&hostsfile, hosts.join("\n") + "\n")?;
    let conffile = dir.join("default.conf");
    let mut lines = vec![
        "##WARNING:  THIS IS AN AUTO-GENERATED FILE.".to_string(),
        "strict-order".into(),
        "except-interface=lo".into(),
        "bind-dynamic".into(),
        // DHCP only: no DNS server on port 53 in the test namespace.
        "port=0".into(),
        "user=root".into(),
    ];
    lines.extend(conf.iter().cloned());
    lines.push(format!("dhcp-hostsfile={}", hostsfile.display()));
    std::fs::write(&conffile, lines.join("\n") + "\n")?;
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", netns, "dnsmasq"])
        .arg(format!("--conf-file={}", conffile.display()))
        .args(["--leasefile-ro", "--keep-in-foreground", "--pid-file="]);
    run_dnsmasq(lab, netns, &mut command)
}

#[derive(Clone, Copy, Debug)]
pub enum DhcpClient {
    /// ISC dhclient, as in most VM images.
    Dhclient,
    /// busybox udhcpc, as in CirrOS test images.
    Udhcpc,
}

/// Runs a DHCP client on `iface` until it has a lease; returns the IPv4 address it got.
pub fn acquire_lease(
    lab: &mut Lab,
    netns: &str,
    iface: &str,
    client: DhcpClient,
) -> Result<String> {
    acquire_lease_within(lab, netns, iface, client, 60)
}

/// [`acquire_lease`], giving up after `secs` seconds (for exchanges meant to fail).
pub fn acquire_lease_within(
    lab: &mut Lab,
    netns: &str,
    iface: &str,
    client: DhcpClient,
    secs: u32,
) -> Result<String> {
    let secs = secs.to_string();
    let dir = lab.workdir()?;
    let script = dir.join("dhcp-script.sh");
    // Configures the address only: the default scripts would rewrite the host's resolv.conf.
    std::fs::write(
        &script,
        "#!/bin/sh\n\
         case \"$reason$1\" in\n\
           BOUND*|RENEW*|REBIND*|REBOOT*) ip addr add \"$new_ip_address/$new_subnet_mask\" dev \"$interface\" ;;\n\
           bound|renew) ip addr add \"$ip/$subnet\" dev \"$interface\" ;;\n\
         esac\n\
         exit 0\n",
    )?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    let script = script.to_string_lossy().into_owned();
    let tag = format!("{netns}-{iface}");
    match client {
        DhcpClient::Dhclient => {
            let pid = dir
                .join(format!("{tag}.pid"))
                .to_string_lossy()
                .into_owned();
            let leases = dir
                .join(format!("{tag}.leases"))
                .to_string_lossy()
                .into_owned();
            // -1: one attempt, exit non-zero without a lease; it then stays as a daemon in the
            // namespace, which the lab kills.
            in_netns(
                netns,
                "timeout",
                &[
                    &secs, "dhclient", "-1", "-v", "-sf", &script, "-pf", &pid, "-lf", &leases,
                    iface,
                ],
            )?;
        }
        DhcpClient::Udhcpc => {
            in_netns(
                netns,
                "timeout",
                &[
                    &secs, "busybox", "udhcpc", "-f", "-q", "-n", "-t", "5", "-i", iface, "-s",
                    &script,
                ],
            )?;
        }
    }
    let out = ip(netns, &["-4", "-br", "addr", "show", "dev", iface])?;
    out.split_whitespace()
        .nth(2)
        .and_then(|cidr| cidr.split('/').next())
        .map(str::to_string)
        .with_context(|| format!("{client:?} reported a lease but {iface} has no address: {out}"))
}

pub fn wait_for(
    limit: Duration,
    what: &str,
    mut ready: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let start = Instant::now();
    loop {
        if ready()? {
            return Ok(());
        }
        if start.elapsed() > limit {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
