//! A real OVN on the real Open vSwitch of [`crate::ovs`]: the Northbound and Southbound
//! ovsdb-servers, ovn-northd and ovn-controller, started by hand the way the packages' init
//! scripts do, on OVN's default sockets so that pathtrace finds them as on a compute node. A
//! "VM" is a namespace whose veth peer is on br-int with `external_ids:iface-id`. Guest (VM)
//! only: the host kernel has no openvswitch module.
//!
//! Dropping the handle stops every daemon, deletes br-int, its ports and both databases, and
//! clears the chassis' `external_ids`, so that later tests see a host without OVN.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use crate::{
    cmd::{ip, run},
    ovs::Ovs,
    Lab,
};

pub const RUNDIR: &str = "/run/ovn";
/// This chassis' name (`external_ids:system-id`).
pub const CHASSIS: &str = "pathtrace-chassis";
/// The DHCP server identity of the logical network's DHCP options.
pub const SERVER_ID: &str = "10.77.0.1";
pub const SERVER_MAC: &str = "0a:00:00:00:77:01";
pub const CIDR: &str = "10.77.0.0/24";

/// The daemons, by pidfile name in [`RUNDIR`].
const DAEMONS: &[&str] = &["ovn-controller", "ovn-northd", "ovnsb_db", "ovnnb_db"];

pub struct OvnChassis {
    pub ovs: Ovs,
    dbdir: PathBuf,
    /// Host-side veths added to br-int, deleted on drop.
    links: Vec<String>,
}

fn sock(name: &str) -> String {
    format!("unix:{RUNDIR}/{name}.sock")
}

impl OvnChassis {
    /// Starts OVN central and ovn-controller on a fresh br-int; returns once ovn-controller has
    /// registered this chassis in the Southbound database.
    pub fn start(lab: &mut Lab) -> Result<Self> {
        let ovs = Ovs::start()?;
        let dbdir = lab.workdir()?.join("ovn");
        std::fs::create_dir_all(&dbdir)?;
        std::fs::create_dir_all(RUNDIR)?;
        let me = Self {
            ovs,
            dbdir,
            links: Vec::new(),
        };
        for (db, schema) in [("ovnnb_db", "ovn-nb"), ("ovnsb_db", "ovn-sb")] {
            let file = me.dbdir.join(format!("{db}.db"));
            let file = file.to_str().context("workdir path")?;
            run(
                "ovsdb-tool",
                &[
                    "create",
                    file,
                    &format!("/usr/share/ovn/{schema}.ovsschema"),
                ],
            )?;
            run(
                "ovsdb-server",
                &[
                    file,
                    &format!("--remote=p{}", sock(db)),
                    &format!("--pidfile={RUNDIR}/{db}.pid"),
                    &format!("--unixctl={RUNDIR}/{db}.ctl"),
                    &format!("--log-file={}", me.log(db)),
                    "--detach",
                ],
            )?;
        }
        run("ovn-nbctl", &["--no-wait", "init"])?;
        run("ovn-sbctl", &["init"])?;
        run(
            "ovn-northd",
            &[
                &format!("--ovnnb-db={}", sock("ovnnb_db")),
                &format!("--ovnsb-db={}", sock("ovnsb_db")),
                &format!("--pidfile={RUNDIR}/ovn-northd.pid"),
                &format!("--log-file={}", me.log("ovn-northd")),
                "--detach",
            ],
        )?;
        run(
            "ovs-vsctl",
            &[
                "set",
                "open",
                ".",
                &format!("external_ids:system-id={CHASSIS}"),
                &format!("external_ids:ovn-remote={}", sock("ovnsb_db")),
                "external_ids:ovn-encap-type=geneve",
                "external_ids:ovn-encap-ip=127.0.0.1",
            ],
        )?;
        me.start_controller()?;
        me.wait_for("the chassis to register", || {
            Ok(run(
                "ovn-sbctl",
                &["--bare", "--columns=name", "list", "Chassis"],
            )?
            .contains(CHASSIS))
        })?;
        Ok(me)
    }

    fn log(&self, daemon: &str) -> String {
        self.dbdir
            .join(format!("{daemon}.log"))
            .display()
            .to_string()
    }

    pub fn start_controller(&self) -> Result<()> {
        run(
            "ovn-controller",
            &[
                &format!("unix:{}", self.ovs.socket().display()),
                &format!("--pidfile={RUNDIR}/ovn-controller.pid"),
                &format!("--log-file={}", self.log("ovn-controller")),
                "--detach",
            ],
        )?;
        Ok(())
    }

    /// Kills ovn-controller the way a crash or an OOM kill would: its flows stay in br-int.
    pub fn kill_controller(&self) -> Result<()> {
        let pid = pid_of("ovn-controller").context("ovn-controller is not running")?;
        run("kill", &["-KILL", &pid.to_string()])?;
        self.wait_for("ovn-controller to die", || {
            Ok(!Path::new(&format!("/proc/{pid}")).exists())
        })
    }

    /// `ovn-nbctl ARGS`.
    pub fn nbctl(&self, args: &[&str]) -> Result<String> {
        run("ovn-nbctl", args)
    }

    /// Registers another chassis in the Southbound database, with a geneve endpoint at `ip` (as
    /// its ovn-controller would), and waits for this chassis' tunnel port to it; returns the
    /// tunnel port's name.
    pub fn remote_chassis(&self, name: &str, ip: &str) -> Result<String> {
        run("ovn-sbctl", &["chassis-add", name, "geneve", ip])?;
        let mut tunnel = String::new();
        self.wait_for("the tunnel port to the other chassis", || {
            tunnel = run(
                "ovs-vsctl",
                &[
                    "--bare",
                    "--columns=name",
                    "find",
                    "Interface",
                    &format!("options:remote_ip=\"{ip}\""),
                ],
            )?
            .trim()
            .to_string();
            Ok(!tunnel.is_empty())
        })?;
        Ok(tunnel)
    }

    /// `ovn-sbctl ARGS`.
    pub fn sbctl(&self, args: &[&str]) -> Result<String> {
        run("ovn-sbctl", args)
    }

    /// Waits until this chassis has the flows of the Northbound database's current state.
    pub fn sync(&self) -> Result<()> {
        run("ovn-nbctl", &["--timeout=60", "--wait=hv", "sync"])?;
        Ok(())
    }

    /// A DHCP_Options row for [`CIDR`] with everything OVN requires; returns its uuid.
    pub fn dhcp_options(&self) -> Result<String> {
        let uuid = self.nbctl(&[
            "create",
            "DHCP_Options",
            &format!("cidr={CIDR}"),
            &format!(
                "options=\"server_id\"=\"{SERVER_ID}\" \"server_mac\"=\"{SERVER_MAC}\" \"lease_time\"=\"3600\" \"router\"=\"{SERVER_ID}\""
            ),
        ])?;
        Ok(uuid.trim().to_string())
    }

    /// A VM: namespace `name` whose eth0 (MAC `mac`) is a veth to br-int with
    /// `iface-id=iface_id`. Returns the namespace's full name.
    pub fn vm(&mut self, lab: &mut Lab, name: &str, mac: &str, iface_id: &str) -> Result<String> {
        let netns = lab.netns(name)?;
        let host = format!("{}-{}", &lab_tag(&netns), name);
        run(
            "ip",
            &[
                "link", "add", &host, "type", "veth", "peer", "name", "eth0", "netns", &netns,
                "address", mac,
            ],
        )?;
        lab.host_link(&host);
        self.links.push(host.clone());
        run("ip", &["link", "set", &host, "up"])?;
        ip(&netns, &["link", "set", "eth0", "up"])?;
        self.ovs.add_port(
            "br-int",
            &host,
            &[
                "set",
                "Interface",
                &host,
                &format!("external_ids:iface-id={iface_id}"),
                &format!("external_ids:attached-mac={mac}"),
            ],
        )?;
        Ok(netns)
    }

    fn wait_for(&self, what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if done()? {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!("timed out waiting for {what}")
    }
}

/// A short host-side link name from a lab namespace name (IFNAMSIZ is 16).
pub fn lab_tag(netns: &str) -> String {
    let digits: String = netns.chars().filter(char::is_ascii_digit).collect();
    format!("ov{}", &digits[digits.len().saturating_sub(4)..])
}

fn pid_of(daemon: &str) -> Option<u32> {
    std::fs::read_to_string(format!("{RUNDIR}/{daemon}.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Drop for OvnChassis {
    fn drop(&mut self) {
        for d in DAEMONS {
            if let Some(pid) = pid_of(d) {
                let _ = run("kill", &[&pid.to_string()]);
                let deadline = Instant::now() + Duration::from_secs(10);
                while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let _ = std::fs::remove_file(format!("{RUNDIR}/{d}.pid"));
        }
        for l in &self.links {
            let _ = run("ovs-vsctl", &["--if-exists", "del-port", "br-int", l]);
        }
        let _ = run("ovs-vsctl", &["--if-exists", "del-br", "br-int"]);
        let _ = run(
            "ovs-vsctl",
            &[
                "remove",
                "open",
                ".",
                "external_ids",
                "system-id",
                "ovn-remote",
                "ovn-encap-type",
                "ovn-encap-ip",
                "ovn-bridge-mappings",
            ],
        );
        // Sockets and control sockets, also those a killed daemon left.
        for e in std::fs::read_dir(RUNDIR).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".sock") || name.ends_with(".ctl") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
