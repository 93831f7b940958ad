//! A real Open vSwitch (ovsdb-server + ovs-vswitchd on the kernel datapath), started the way
//! the packages' init scripts do it, in its default run directory so that pathtrace finds it
//! the way it would on a compute node. Guest (VM) only: the host kernel has no openvswitch
//! module.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::cmd::run;

pub const RUNDIR: &str = "/run/openvswitch";

pub struct Ovs {
    bridges: Vec<String>,
}

impl Ovs {
    pub fn start() -> Result<Self> {
        run("modprobe", &["openvswitch"])?;
        for dir in [RUNDIR, "/etc/openvswitch", "/var/log/openvswitch"] {
            std::fs::create_dir_all(dir)?;
        }
        let db = "/etc/openvswitch/conf.db";
        if !Path::new(db).exists() {
            run(
                "ovsdb-tool",
                &["create", db, "/usr/share/openvswitch/vswitch.ovsschema"],
            )?;
        }
        if !Path::new(RUNDIR).join("db.sock").exists() {
            run(
                "ovsdb-server",
                &[
                    db,
                    &format!("--remote=punix:{RUNDIR}/db.sock"),
                    "--pidfile",
                    "--detach",
                    "--log-file",
                ],
            )?;
            run("ovs-vsctl", &["--no-wait", "init"])?;
            run("ovs-vswitchd", &["--pidfile", "--detach", "--log-file"])?;
        }
        Ok(Self {
            bridges: Vec::new(),
        })
    }

    pub fn socket(&self) -> PathBuf {
        Path::new(RUNDIR).join("db.sock")
    }

    pub fn vsctl(&self, args: &[&str]) -> Result<String> {
        run("ovs-vsctl", args)
    }

    /// A bridge deleted when this handle drops, with OpenFlow 1.0 flows replaced by `flows`
    /// when given (the default NORMAL flow otherwise).
    pub fn bridge(&mut self, name: &str) -> Result<()> {
        self.vsctl(&["--may-exist", "add-br", name])?;
        self.bridges.push(name.to_string());
        Ok(())
    }

    pub fn add_port(&self, bridge: &str, port: &str, extra: &[&str]) -> Result<()> {
        let mut args = vec!["add-port", bridge, port];
        if !extra.is_empty() {
            args.push("--");
            args.extend_from_slice(extra);
        }
        self.vsctl(&args)?;
        Ok(())
    }

    /// The OpenFlow port number OVS gave `iface`.
    pub fn ofport(&self, iface: &str) -> Result<u32> {
        let out = self.vsctl(&["get", "Interface", iface, "ofport"])?;
        out.trim()
            .parse()
            .with_context(|| format!("ofport of {iface}: {out}"))
    }

    pub fn replace_flows(&self, bridge: &str, flows: &[String]) -> Result<()> {
        run("ovs-ofctl", &["del-flows", bridge])?;
        for f in flows {
            run("ovs-ofctl", &["add-flow", bridge, f])?;
        }
        Ok(())
    }

    pub fn dump_flows(&self, bridge: &str) -> Result<String> {
        run("ovs-ofctl", &["--no-names", "dump-flows", bridge])
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        for b in self.bridges.iter().rev() {
            let _ = run("ovs-vsctl", &["--if-exists", "del-br", b]);
        }
    }
}
