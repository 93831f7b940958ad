//! `cargo xtask bench --only ovn`: discovery against a cloud-sized OVN Southbound database, in
//! the VM. The guest starts real ovsdb-servers (Open vSwitch, OVN NB and SB) and ovs-vswitchd in
//! a scratch run directory, fills the SB database over JSON-RPC with 1,000 datapaths of 100 logical flows
//! each (100,000 flows, half of them drops) and a port binding per datapath, puts one of those
//! ports on br-int with its `iface-id`, then times `pathtrace topology --format json` (release
//! build, peak RSS from wait4(2)) and, once, the engineer's way, `ovn-sbctl lflow-list`, which
//! reads every flow. pathtrace must fetch only the local datapath's flows.

use std::{
    io::Write as _,
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::{
    bench::{measure, median},
    sh::{exec, workspace_root},
    vm,
};

const DATAPATHS: usize = 1_000;
const FLOWS_PER_DATAPATH: usize = 100;
/// Datapaths inserted per transaction (each with its flows).
const DATAPATHS_PER_TRANSACTION: usize = 50;
const RUNS: usize = 5;
/// Floors of issue 14, in the VM.
const FLOOR_MS: f64 = 1000.0;
const FLOOR_MIB: f64 = 128.0;
const SCRATCH: &str = "/tmp/ptbench-ovn";
const CHASSIS: &str = "bench-chassis";

/// Host side: boots a VM that runs [`guest`].
pub fn run(results: &Path) -> Result<()> {
    let xtask = std::env::current_exe().context("no path to xtask")?;
    let (code, _) = vm::run_capturing(&vm::Options {
        kernel: None,
        timeout: 1200,
        memory: "2G".into(),
        command: vec![
            xtask.display().to_string(),
            "bench".into(),
            "--only".into(),
            "ovn-guest".into(),
        ],
    })?;
    if code != 0 {
        bail!("the OVN discovery bench failed in the VM (exit status {code})");
    }
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(results.join("bench-ovn.json"))
            .context("the VM wrote no bench-ovn.json")?,
    )?;
    println!(
        "OVN discovery (in the VM, 6.12 under TCG): {} logical flows in {} datapaths, {} fetched \
         (the local datapath's drops)\n  pathtrace topology --format json: median {:.0} ms over \
         {RUNS} runs, peak RSS {:.1} MiB (floors: < {FLOOR_MS} ms, < {FLOOR_MIB} MiB)\n  \
         ovn-sbctl lflow-list (every flow): {:.0} ms; ratio pathtrace / ovn-sbctl {:.3}",
        report["logical_flows"],
        report["datapaths"],
        report["fetched_drop_flows"],
        report["discovery_median_ms"].as_f64().unwrap_or(f64::NAN),
        report["discovery_max_rss_mib"].as_f64().unwrap_or(f64::NAN),
        report["lflow_list_ms"].as_f64().unwrap_or(f64::NAN),
        report["ratio_discovery_to_lflow_list"]
            .as_f64()
            .unwrap_or(f64::NAN),
    );
    Ok(())
}

/// Guest side: builds the databases, measures, writes `results/bench-ovn.json`, and fails below
/// the floors.
pub fn guest(bin: &Path) -> Result<()> {
    let dir = PathBuf::from(SCRATCH);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let servers = Servers::start(&dir)?;
    local_chassis(&dir)?;
    fill_southbound(&dir.join("ovnsb_db.sock"))?;
    exec(Command::new("ovn-nbctl").args([
        &format!("--db=unix:{}", dir.join("ovnnb_db.sock").display()),
        "ls-add",
        "bench-sw0",
    ]))?;

    let out = dir.join("topology.json");
    let mut walls = Vec::new();
    let mut rss = 0;
    for _ in 0..RUNS {
        let s = measure(
            Command::new(bin)
                .args(["topology", "--format", "json"])
                .env("OVS_RUNDIR", &dir)
                .env("OVN_RUNDIR", &dir),
            &out,
        )?;
        walls.push(s.wall);
        rss = rss.max(s.max_rss_kib);
    }
    let topo: Value = serde_json::from_reader(std::fs::File::open(&out)?)?;
    let fetched = topo["ovn"]["drop_flows"].as_array().map_or(0, Vec::len);
    let bindings = topo["ovn"]["bindings"].as_array().map_or(0, Vec::len);
    // Only counts if discovery read the databases: every binding, and the local datapath's
    // drop flows, no more.
    if fetched != FLOWS_PER_DATAPATH / 2 || bindings != DATAPATHS {
        bail!(
            "discovery fetched {fetched} drop flows and {bindings} bindings; expected {} and {DATAPATHS}",
            FLOWS_PER_DATAPATH / 2
        );
    }
    let lflow_list = measure(
        Command::new("ovn-sbctl").args([
            &format!("--db=unix:{}", dir.join("ovnsb_db.sock").display()),
            "lflow-list",
        ]),
        &dir.join("lflow-list.txt"),
    )?;
    drop(servers);
    let median_ms = median(walls).as_secs_f64() * 1e3;
    let rss_mib = rss as f64 / 1024.0;
    let lflow_ms = lflow_list.wall.as_secs_f64() * 1e3;
    let report = json!({
        "logical_flows": DATAPATHS * FLOWS_PER_DATAPATH,
        "datapaths": DATAPATHS,
        "fetched_drop_flows": fetched,
        "runs": RUNS,
        "discovery_median_ms": median_ms,
        "discovery_max_rss_mib": rss_mib,
        "lflow_list_ms": lflow_ms,
        "ratio_discovery_to_lflow_list": median_ms / lflow_ms,
    });
    std::fs::write(
        vm::results_dir().join("bench-ovn.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    if median_ms >= FLOOR_MS || rss_mib >= FLOOR_MIB {
        bail!("OVN discovery over its floor: {median_ms:.0} ms, {rss_mib:.1} MiB");
    }
    Ok(())
}

/// The three ovsdb-servers, stopped on drop.
struct Servers {
    dir: PathBuf,
}

const DATABASES: &[(&str, &str)] = &[
    ("db", "/usr/share/openvswitch/vswitch.ovsschema"),
    ("ovnnb_db", "/usr/share/ovn/ovn-nb.ovsschema"),
    ("ovnsb_db", "/usr/share/ovn/ovn-sb.ovsschema"),
];

impl Servers {
    fn start(dir: &Path) -> Result<Self> {
        let me = Self {
            dir: dir.to_path_buf(),
        };
        exec(Command::new("modprobe").arg("openvswitch"))?;
        for (name, schema) in DATABASES {
            let db = dir.join(format!("{name}.db"));
            exec(
                Command::new("ovsdb-tool")
                    .arg("create")
                    .arg(&db)
                    .arg(schema),
            )?;
            exec(
                Command::new("ovsdb-server")
                    .arg(&db)
                    .arg(format!("--remote=punix:{}/{name}.sock", dir.display()))
                    .arg(format!("--pidfile={}/{name}.pid", dir.display()))
                    .arg(format!("--unixctl={}/{name}.ctl", dir.display()))
                    .arg(format!("--log-file={}/{name}.log", dir.display()))
                    .arg("--detach"),
            )?;
        }
        // A real switch daemon, as on a chassis: br-int exists in the kernel and its OpenFlow
        // tables can be dumped.
        exec(
            Command::new("ovs-vswitchd")
                .arg(format!("unix:{}/db.sock", dir.display()))
                .arg(format!("--pidfile={}/ovs-vswitchd.pid", dir.display()))
                .arg(format!("--log-file={}/ovs-vswitchd.log", dir.display()))
                .arg("--detach")
                .env("OVS_RUNDIR", dir),
        )?;
        Ok(me)
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for name in ["ovs-vswitchd"]
            .into_iter()
            .chain(DATABASES.iter().map(|(n, _)| *n))
        {
            if let Ok(pid) = std::fs::read_to_string(self.dir.join(format!("{name}.pid"))) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
    }
}

/// This host as a chassis: br-int with one port bound to the first datapath's logical port.
fn local_chassis(dir: &Path) -> Result<()> {
    let db = format!("--db=unix:{}/db.sock", dir.display());
    exec(Command::new("ovs-vsctl").args([&db, "--no-wait", "init"]))?;
    exec(Command::new("ovs-vsctl").args([
        &db,
        "--timeout=60",
        "add-br",
        "br-int",
        "--",
        "add-port",
        "br-int",
        "vif0",
        "--",
        "set",
        "Interface",
        "vif0",
        "type=internal",
        "external_ids:iface-id=lp-0",
        "--",
        "set",
        "open",
        ".",
        &format!("external_ids:system-id={CHASSIS}"),
        &format!(
            "external_ids:ovn-remote=unix:{}/ovnsb_db.sock",
            dir.display()
        ),
    ]))?;
    Ok(())
}

/// The chassis, then the datapaths with their flows and one port binding each, in
/// transactions of [`DATAPATHS_PER_TRANSACTION`] datapaths.
fn fill_southbound(socket: &Path) -> Result<()> {
    transact(
        socket,
        vec![
            json!({"op": "insert", "table": "Encap", "uuid-name": "e",
                   "row": {"type": "geneve", "ip": "192.0.2.1", "chassis_name": CHASSIS}}),
            json!({"op": "insert", "table": "Chassis", "uuid-name": "c",
                   "row": {"name": CHASSIS, "hostname": "bench", "encaps": ["named-uuid", "e"]}}),
        ],
    )?;
    let chassis = select_uuid(socket, "Chassis", CHASSIS)?;
    for batch in 0..DATAPATHS / DATAPATHS_PER_TRANSACTION {
        let mut ops = Vec::new();
        for d in batch * DATAPATHS_PER_TRANSACTION..(batch + 1) * DATAPATHS_PER_TRANSACTION {
            let dp = format!("dp{d}");
            ops.push(json!({"op": "insert", "table": "Datapath_Binding", "uuid-name": dp,
                "row": {"tunnel_key": d + 1, "external_ids": ["map", [["name", format!("sw{d}")]]]}}));
            let mut binding = json!({"logical_port": format!("lp-{d}"), "tunnel_key": 1,
                "datapath": ["named-uuid", dp]});
            if d == 0 {
                binding["chassis"] = json!(["uuid", chassis]);
            }
            ops.push(json!({"op": "insert", "table": "Port_Binding", "row": binding}));
            for f in 0..FLOWS_PER_DATAPATH {
                let actions = if f % 2 == 0 { "drop;" } else { "next;" };
                ops.push(json!({"op": "insert", "table": "Logical_Flow", "row": {
                    "logical_datapath": ["named-uuid", dp],
                    "pipeline": if f % 4 < 2 { "ingress" } else { "egress" },
                    "table_id": f % 30,
                    "priority": 1000 + f,
                    "match": format!("inport == \"lp-{d}\" && udp.dst == {f}"),
                    "actions": actions,
                    "external_ids": ["map", [["stage-name", "ls_in_acl"], ["stage-hint", "0123abcd"]]],
                }}));
            }
        }
        transact(socket, ops)?;
    }
    Ok(())
}

fn select_uuid(socket: &Path, table: &str, name: &str) -> Result<String> {
    let r = transact(
        socket,
        vec![
            json!({"op": "select", "table": table, "where": [["name", "==", name]], "columns": ["_uuid"]}),
        ],
    )?;
    r[0]["rows"][0]["_uuid"][1]
        .as_str()
        .map(str::to_string)
        .context("no uuid in the select reply")
}

/// One transaction on the Southbound database; the reply's results, none of them an error.
fn transact(socket: &Path, ops: Vec<Value>) -> Result<Vec<Value>> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut params = vec![json!("OVN_Southbound")];
    params.extend(ops);
    stream.write_all(
        json!({"method": "transact", "params": params, "id": 0})
            .to_string()
            .as_bytes(),
    )?;
    let mut de = serde_json::Deserializer::from_reader(stream.try_clone()?).into_iter::<Value>();
    loop {
        let msg = de.next().context("ovsdb-server closed the connection")??;
        if msg["method"] == "echo" {
            let reply = json!({"result": msg["params"], "error": null, "id": msg["id"]});
            stream.write_all(reply.to_string().as_bytes())?;
            continue;
        }
        let results = msg["result"].as_array().cloned().unwrap_or_default();
        if let Some(e) = results.iter().find(|r| r.get("error").is_some()) {
            bail!("transaction failed: {e}");
        }
        if !msg["error"].is_null() {
            bail!("transaction failed: {}", msg["error"]);
        }
        return Ok(results);
    }
}

/// The release binary the bench measures (built by `bench::run` before the VM boots).
pub fn release_bin() -> PathBuf {
    workspace_root().join("target/release/pathtrace")
}
