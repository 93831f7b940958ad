//! `pathtrace topology` and `pathtrace path` on real namespaces, veth pairs, Linux bridges, a
//! tap, a macvlan and a dnsmasq, checked edge by edge and hop by hop.

use std::collections::BTreeSet;

use pathtrace_testbed::{
    cmd::{in_netns, run},
    topologies::LinuxComputeNode,
    tracer::{self, source_status},
    Lab,
};
use serde_json::Value;

fn json_of(args: &[&str]) -> Value {
    tracer::run_json(args).unwrap()
}

/// `netns:name` for a node id of the graph, if it is an interface.
fn iface_names(topo: &Value) -> std::collections::HashMap<String, String> {
    topo["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                format!("if:{}:{}", i["netns"], i["ifindex"]),
                format!(
                    "{}:{}",
                    i["netns_name"].as_str().unwrap(),
                    i["name"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

fn iface<'a>(topo: &'a Value, netns: &str, name: &str) -> &'a Value {
    topo["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["netns_name"] == netns && i["name"] == name)
        .unwrap_or_else(|| panic!("{netns}:{name} not discovered"))
}

#[test]
fn every_edge_of_a_compute_node_is_discovered() {
    let mut lab = Lab::new("topo");
    let node = LinuxComputeNode::build(&mut lab).unwrap();
    let topo = json_of(&["topology", "--format", "json"]);
    let names = iface_names(&topo);
    let ours = |n: &str| {
        lab.namespaces()
            .iter()
            .any(|ns| n.starts_with(&format!("{ns}:")))
    };
    let dnsmasq = topo["dhcp_servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["netns_name"] == node.srv.as_str())
        .expect("the lab's dnsmasq is discovered");
    let dhcp_id = format!("dhcp:{}", dnsmasq["pid"]);
    let name_of = |id: &str| {
        if id == dhcp_id {
            "dnsmasq".to_string()
        } else {
            names.get(id).cloned().unwrap_or_else(|| id.to_string())
        }
    };
    let mut edges = BTreeSet::new();
    for e in topo["edges"].as_array().unwrap() {
        let (from, to) = (
            name_of(e["from"].as_str().unwrap()),
            name_of(e["to"].as_str().unwrap()),
        );
        if !(ours(&from) || from == "dnsmasq") || !ours(&to) {
            continue;
        }
        let (from, to) = if e["kind"] == "veth_peer" && from > to {
            (to, from)
        } else {
            (from, to)
        };
        edges.insert((e["kind"].as_str().unwrap().to_string(), from, to));
    }
    let (vm, hv, srv, ext) = (&node.vm, &node.hv, &node.srv, &node.ext);
    let mut expected = BTreeSet::new();
    let mut add = |kind: &str, a: String, b: String| {
        let (a, b) = if kind == "veth_peer" && a > b {
            (b, a)
        } else {
            (a, b)
        };
        expected.insert((kind.to_string(), a, b));
    };
    add("veth_peer", format!("{vm}:eth0"), format!("{hv}:tapvm"));
    add("veth_peer", format!("{hv}:qvb"), format!("{srv}:qvo"));
    add("veth_peer", format!("{srv}:up0"), format!("{ext}:up1"));
    for port in ["tapvm", "tapreal", "qvb"] {
        add("bridge_port", format!("{hv}:{port}"), format!("{hv}:qbr"));
    }
    for port in ["qvo", "up0"] {
        add("bridge_port", format!("{srv}:{port}"), format!("{srv}:brs"));
    }
    add("lower_device", format!("{ext}:mv0"), format!("{ext}:up1"));
    add("dhcp_listens", "dnsmasq".into(), format!("{srv}:brs"));
    assert_eq!(edges, expected);

    // Node facts, as `ip -d link` shows them.
    assert_eq!(iface(&topo, hv, "tapreal")["kind"], "tap");
    assert_eq!(iface(&topo, ext, "mv0")["kind"], "macvlan");
    assert_eq!(iface(&topo, hv, "qbr")["kind"], "bridge");
    assert_eq!(iface(&topo, vm, "eth0")["kind"], "veth");
    assert_eq!(iface(&topo, vm, "eth0")["mtu"], 9000);
    assert_eq!(iface(&topo, hv, "qvb")["mtu"], 1500);
    assert_eq!(iface(&topo, vm, "eth0")["mac"], node.vm_mac.as_str());
    assert_eq!(iface(&topo, vm, "eth0")["oper_state"], "up");
    assert!(iface(&topo, srv, "brs")["addresses"]
        .as_array()
        .unwrap()
        .contains(&Value::from("10.78.0.1/24")));
    let host = &dnsmasq["hosts"][0];
    assert_eq!(host["macs"][0], node.vm_mac.as_str());
    assert_eq!(host["ip"], node.reserved_ip);
    // No OVS and no libvirt on this host: said, not failed.
    assert_eq!(source_status(&topo, "netlink"), "found");
    assert_eq!(source_status(&topo, "libvirt"), "absent");
    assert_eq!(source_status(&topo, "dnsmasq"), "found");
}

#[test]
fn namespaces_held_only_by_a_process_are_discovered() {
    let mut lab = Lab::new("anon");
    let ns = lab.netns("named").unwrap();
    let child = std::process::Command::new("unshare")
        .args(["-n", "sleep", "600"])
        .spawn()
        .unwrap();
    let pid = child.id();
    lab.adopt(child);
    // unshare execs sleep once the namespace exists.
    pathtrace_testbed::dhcp::wait_for(
        std::time::Duration::from_secs(5),
        "the unshared namespace",
        || {
            Ok(std::fs::read_link(format!("/proc/{pid}/ns/net"))?
                != std::fs::read_link("/proc/self/ns/net")?
                && std::fs::read_to_string(format!("/proc/{pid}/comm"))?.trim() == "sleep")
        },
    )
    .unwrap();
    run(
        "ip",
        &[
            "-n",
            &ns,
            "link",
            "add",
            "outer",
            "type",
            "veth",
            "peer",
            "name",
            "inner",
            "netns",
            &format!("/proc/{pid}/ns/net"),
        ],
    )
    .unwrap();
    let topo = json_of(&["topology", "--format", "json"]);
    let anon = format!("pid:{pid}");
    let inner = iface(&topo, &anon, "inner");
    let outer = iface(&topo, &ns, "outer");
    assert_eq!(inner["link"]["netns"], outer["netns"]);
    assert_eq!(inner["link"]["ifindex"], outer["ifindex"]);
    assert_eq!(outer["link"]["netns"], inner["netns"]);
    // The tree names the peer across namespaces, like `ip link`'s `link-netns`.
    let tree = tracer::run(&["topology", "--netns", &ns]).unwrap();
    assert!(tree.status.success(), "{tree:?}");
    assert!(
        tree.stdout.contains("outer veth mtu 1500"),
        "{}",
        tree.stdout
    );
    assert!(
        tree.stdout.contains(&format!("<-> {anon}:inner")),
        "{}",
        tree.stdout
    );
}

#[test]
fn dot_output_renders_with_graphviz() {
    let mut lab = Lab::new("dot");
    let node = LinuxComputeNode::build(&mut lab).unwrap();
    let out = tracer::run(&["topology", "--format", "dot", "--netns", &node.hv]).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("\"bridge_port\""), "{}", out.stdout);
    let dir = lab.workdir().unwrap();
    let file = dir.join("topo.dot");
    std::fs::write(&file, &out.stdout).unwrap();
    let svg = run("dot", &["-Tsvg", file.to_str().unwrap()]).unwrap();
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains("qbr"), "{svg}");
}

#[test]
fn dhcp_path_runs_from_the_vm_to_its_dnsmasq() {
    let mut lab = Lab::new("path");
    let node = LinuxComputeNode::build(&mut lab).unwrap();
    let path = json_of(&["path", "--dhcp", "--mac", &node.vm_mac, "--output", "json"]);
    let pid = run("ip", &["netns", "pids", &node.srv]).unwrap();
    let pid = pid.split_whitespace().next().unwrap();
    let t = |k: &str, n: &str, ns: &str, d: &str| {
        (k.to_string(), n.to_string(), ns.to_string(), d.to_string())
    };
    assert_eq!(
        tracer::hop_rows(&path),
        vec![
            t("interface", "eth0", &node.vm, "egress"),
            t("interface", "tapvm", &node.hv, "ingress"),
            t("linux_bridge", "qbr", &node.hv, ""),
            t("interface", "qvb", &node.hv, "egress"),
            t("interface", "qvo", &node.srv, "ingress"),
            t("linux_bridge", "brs", &node.srv, "ingress"),
            t("dhcp_server", &format!("dnsmasq pid {pid}"), &node.srv, ""),
        ]
    );
    let hops = path["hops"].as_array().unwrap();
    assert_eq!(hops[1]["bridge"], "qbr");
    assert!(hops.iter().all(|h| h["vlan"].is_null()), "{hops:#?}");
    // Jumbo frames from the VM stop at the first 1500-byte link.
    assert!(
        hops[3]["notes"][0]
            .as_str()
            .unwrap()
            .contains("MTU 1500 is lower than 9000"),
        "{:#?}",
        hops[3]
    );
    assert_eq!(path["dhcp_server"]["reserved_ip"], node.reserved_ip);
    assert_eq!(path["dhcp_server"]["netns"], node.srv.as_str());
    assert!(path["blocked_at"].is_null(), "{path:#}");

    // Same MAC, to a given interface: through the server bridge out of the uplink.
    let to = format!("{}:up1", node.ext);
    let path = json_of(&[
        "path",
        "--mac",
        &node.vm_mac,
        "--to",
        &to,
        "--output",
        "json",
    ]);
    let names: Vec<String> = tracer::hop_rows(&path).into_iter().map(|h| h.1).collect();
    assert_eq!(
        names,
        ["eth0", "tapvm", "qbr", "qvb", "qvo", "brs", "up0", "up1"]
    );

    // A link going down shows where the topology blocks the path.
    run("ip", &["-n", &node.hv, "link", "set", "qvb", "down"]).unwrap();
    let path = json_of(&["path", "--dhcp", "--mac", &node.vm_mac, "--output", "json"]);
    assert_eq!(path["blocked_at"], 4, "{path:#}");
    // The text form says the same.
    let text = tracer::run(&["path", "--dhcp", "--mac", &node.vm_mac]).unwrap();
    assert!(
        text.stdout.contains("blocks this path at hop 4"),
        "{text:?}"
    );
    assert!(in_netns(&node.vm, "true", &[]).is_ok());
}

fn assert_one_line_exit_2(args: &[&str], expected: &str) {
    let out = tracer::run(args).unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(expected),
        "{expected:?} not in {}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let mut lab = Lab::new("topoerr");
    let node = LinuxComputeNode::build(&mut lab).unwrap();
    assert_one_line_exit_2(
        &["path", "--mac", "fa:16:3e:zz:c7:87"],
        "invalid MAC address",
    );
    // One hex digit off the VM's MAC (and two off every other lab MAC, which differ from it
    // only in the last digit): the error names the VM's NIC as the closest.
    let mut near = node.vm_mac.clone();
    near.replace_range(15..16, "f");
    assert_one_line_exit_2(&["path", "--mac", &near], "is not on this host");
    let out = tracer::run(&["path", "--mac", &near]).unwrap();
    assert!(
        out.stderr
            .contains(&format!("{} ({}:eth0)", node.vm_mac, node.vm)),
        "{}",
        out.stderr
    );
    // Durations that are not a positive, bounded number of seconds are refused before
    // anything is attached (they used to panic in Duration::from_secs_f64 after attaching).
    for t in [
        "--timeout=-1",
        "--timeout=nan",
        "--timeout=inf",
        "--timeout=1e20",
    ] {
        assert_one_line_exit_2(&["--dhcp", &node.vm_mac, t], "not between 0 and");
        assert_one_line_exit_2(&["trace", "-i", "lo", t], "not between 0 and");
    }
    assert_one_line_exit_2(
        &["topology", "--ovsdb", "/nonexistent/db.sock"],
        "OVSDB socket /nonexistent/db.sock does not exist",
    );
    assert_one_line_exit_2(
        &["topology", "--netns", "no-such-ns-pt"],
        "unknown network namespace",
    );
    assert_one_line_exit_2(
        &["path", "--mac", &node.vm_mac, "--to", "no-such-ns-pt:eth0"],
        "no interface eth0 in namespace no-such-ns-pt",
    );
    let bin = tracer::pathtrace_bin();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&bin)
        .arg("topology")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("needs CAP_SYS_ADMIN"), "{stderr}");
}

/// `replay --svg/--dot` of a recorded seed 004 run (healthy, and stopped by an OpenFlow drop
/// flow): graphviz renders the picture, the stop is marked with its cause, and the files are
/// private and written without following a link planted at their name.
#[test]
fn journey_pictures_render_with_graphviz() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    let recordings =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tracer/fixtures/recordings");
    let dir = std::env::temp_dir().join(format!("pathtrace-pictures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, exit, stop) in [
        ("seed004-healthy", 0, None),
        ("seed004-openflow-drop", 1, Some("OpenFlow drop on br-eth2")),
    ] {
        let svg = dir.join(format!("{name}.svg"));
        let dot = dir.join(format!("{name}.dot"));
        // A link at the target must be replaced, never written through.
        let victim = dir.join(format!("{name}.victim"));
        std::fs::write(&victim, "untouched").unwrap();
        std::os::unix::fs::symlink(&victim, &svg).unwrap();
        let recording = recordings.join(format!("{name}.json"));
        let out = tracer::run(&[
            "replay",
            recording.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
            "--dot",
            dot.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(out.status.code(), Some(exit), "{name}: {out:?}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        let meta = std::fs::symlink_metadata(&svg).unwrap();
        assert!(meta.file_type().is_file(), "{name}: the link was followed");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        assert_eq!(meta.uid(), std::fs::metadata(&dot).unwrap().uid());
        // As a reader sees it: graphviz writes '-' as an entity.
        let picture = std::fs::read_to_string(&svg).unwrap().replace("&#45;", "-");
        assert!(picture.contains("<svg"), "{name}");
        // The route is numbered and passes the bridges of the path.
        for label in ["br-int", "br-eth2", "tapdhcp", ">1<"] {
            assert!(picture.contains(label), "{name}: no {label}");
        }
        match stop {
            Some(cause) => {
                assert!(picture.contains('✗'), "{name}: stop not marked");
                assert!(picture.contains(cause), "{name}: cause not drawn");
            }
            None => assert!(!picture.contains('✗'), "{name}: a stop on a healthy run"),
        }
        // The DOT source is the same drawing, and dot accepts it as it is.
        let rendered = run("dot", &["-Tsvg", dot.to_str().unwrap()]).unwrap();
        assert!(rendered.contains("<svg"), "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The journey view on a real terminal (a pty from `script`): colour there and only there,
/// none with `NO_COLOR`, and no line wider than the terminal.
#[test]
fn the_journey_view_minds_the_terminal() {
    let recording = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tracer/fixtures/recordings/seed004-healthy.json");
    let bin = tracer::pathtrace_bin();
    let on_tty = |env: &str, cols: u16| {
        let inner = format!(
            "stty cols {cols}; {env} {} replay {}",
            bin.display(),
            recording.display()
        );
        run("script", &["-qec", &inner, "/dev/null"]).unwrap()
    };
    const ESC: char = '\u{1b}';
    let coloured = on_tty("", 70);
    assert!(
        coloured.contains(ESC),
        "no colour on a terminal:\n{coloured}"
    );
    let plain = on_tty("NO_COLOR=1", 70);
    assert!(!plain.contains(ESC), "colour despite NO_COLOR:\n{plain}");
    for cols in [50, 70, 120] {
        let text = on_tty("NO_COLOR=1", cols);
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            assert!(
                line.chars().count() <= usize::from(cols),
                "{cols}: {line:?}"
            );
        }
    }
    // Not a terminal: no colour either.
    let piped = tracer::run(&["replay", recording.to_str().unwrap()]).unwrap();
    assert!(!piped.stdout.contains(ESC) && piped.stdout.contains("DELIVERED"));
}

/// `replay --pcap` writes through no link planted at the name, creates the file private, and a
/// file that cannot be written is one error line after the verdict, which is still printed.
#[test]
fn a_capture_file_is_private_and_a_failed_one_keeps_the_verdict() {
    use std::os::unix::fs::PermissionsExt as _;

    let recording = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tracer/fixtures/recordings/seed004-openflow-drop.json");
    let recording = recording.to_str().unwrap();
    let dir = std::env::temp_dir().join(format!("pathtrace-pcap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("journey.pcapng");
    let victim = dir.join("victim");
    std::fs::write(&victim, "untouched").unwrap();
    std::os::unix::fs::symlink(&victim, &pcap).unwrap();
    let out = tracer::run(&["replay", recording, "--pcap", pcap.to_str().unwrap()]).unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    let meta = std::fs::symlink_metadata(&pcap).unwrap();
    assert!(meta.file_type().is_file() && meta.len() > 0, "{meta:?}");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // pcapng's section header block magic.
    assert_eq!(
        &std::fs::read(&pcap).unwrap()[..4],
        &[0x0a, 0x0d, 0x0d, 0x0a]
    );

    let nowhere = dir.join("no-such-dir/journey.pcapng");
    let out = tracer::run(&["replay", recording, "--pcap", nowhere.to_str().unwrap()]).unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        out.stdout.contains("STOPPED"),
        "the verdict is lost: {out:?}"
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("journey.pcapng"), "{}", out.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Anyone can run a process called `dnsmasq` whose command line names any file. pathtrace runs
/// as root: it must not read them for such a process (here `/etc/shadow`, `/dev/zero` and a
/// FIFO, which used to be echoed back or to hang discovery), must not take it for a DHCP
/// server, and must say it ignored it.
#[test]
fn a_fake_dnsmasq_of_an_unprivileged_user_is_ignored() {
    use std::os::unix::fs::PermissionsExt as _;

    let mut lab = Lab::new("fake");
    let ns = lab.netns("fk").unwrap();
    let dir = lab.workdir().unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fake = dir.join("dnsmasq");
    std::fs::write(&fake, "#!/bin/sh\nwhile :; do sleep 1; done\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fifo = dir.join("fifo");
    run("mkfifo", &[fifo.to_str().unwrap()]).unwrap();
    let child = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
        ])
        .args(["--clear-groups", "--inh-caps=-all"])
        .arg(&fake)
        .args(["--dhcp-hostsfile=/etc/shadow", "--dhcp-hostsfile=/dev/zero"])
        .arg(format!("--dhcp-hostsfile={}", fifo.display()))
        .arg("--conf-file=/etc/shadow")
        .spawn()
        .unwrap();
    let pid = child.id();
    lab.adopt(child);
    // `ip netns exec` and setpriv exec the script: wait until it is what /proc shows.
    let comm = format!("/proc/{pid}/comm");
    for _ in 0..50 {
        if std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "dnsmasq") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let bin = tracer::pathtrace_bin();
    for format in ["json", "tree"] {
        // Bounded: reading the FIFO used to block discovery forever.
        let out = std::process::Command::new("timeout")
            .args(["60", bin.to_str().unwrap(), "topology", "--format", format])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {:?}\n{text}", out.status);
        for line in std::fs::read_to_string("/etc/shadow").unwrap().lines() {
            let hash = line.split(':').nth(1).unwrap_or_default();
            assert!(
                !text.contains(line),
                "{format}: a line of /etc/shadow is shown"
            );
            assert!(
                hash.len() < 8 || !text.contains(hash),
                "{format}: a hash is shown"
            );
        }
        assert!(
            text.contains(&format!(
                "ignored 1 process(es) called dnsmasq that root did not start (pid {pid})"
            )),
            "{format}: {text}"
        );
        if format == "json" {
            let topo: Value = serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
            let servers = topo["dhcp_servers"].as_array().unwrap();
            assert!(
                servers.iter().all(|d| d["pid"] != pid),
                "the fake is taken for a DHCP server"
            );
        }
    }
}

/// A wedged Open vSwitch costs discovery seconds, not the run: a bridge whose management
/// socket accepts and never answers (a stopped ovs-vswitchd), then a stopped ovsdb-server.
/// `ovs-ofctl` used to wait forever.
#[test]
fn wedged_open_vswitch_daemons_cost_seconds_not_the_run() {
    let mut lab = Lab::new("wedged");
    let dir = lab.workdir().unwrap();
    let db = dir.join("conf.db");
    let sock = dir.join("db.sock");
    run(
        "ovsdb-tool",
        &[
            "create",
            db.to_str().unwrap(),
            "/usr/share/openvswitch/vswitch.ovsschema",
        ],
    )
    .unwrap();
    let server = std::process::Command::new("ovsdb-server")
        .arg(&db)
        .arg(format!("--remote=punix:{}", sock.display()))
        .arg("--unixctl")
        .arg(dir.join("ovsdb-server.ctl"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server_pid = server.id() as i32;
    lab.adopt(server);
    let vsctl = |args: &[&str]| {
        let db = format!("--db=unix:{}", sock.display());
        let mut all = vec![db.as_str(), "--no-wait"];
        all.extend_from_slice(args);
        run("ovs-vsctl", &all)
    };
    pathtrace_testbed::dhcp::wait_for(std::time::Duration::from_secs(10), "ovsdb-server", || {
        Ok(vsctl(&["init"]).is_ok())
    })
    .unwrap();
    vsctl(&["add-br", "br-wedged"]).unwrap();
    // What ovs-ofctl connects to: accepted by the kernel, never answered.
    let _mgmt = std::os::unix::net::UnixListener::bind(dir.join("br-wedged.mgmt")).unwrap();
    let bin = tracer::pathtrace_bin();
    let topology = |secs: &str| {
        let started = std::time::Instant::now();
        let out = std::process::Command::new("timeout")
            .args([secs, bin.to_str().unwrap(), "topology", "--format", "json"])
            .arg("--ovsdb")
            .arg(&sock)
            .output()
            .unwrap();
        (out, started.elapsed())
    };
    let (out, took) = topology("60");
    assert!(out.status.success(), "{out:?}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    let topo: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        tracer::named(&topo["ovs_bridges"], "name", "br-wedged")["name"],
        "br-wedged"
    );
    assert_eq!(source_status(&topo, "openflow"), "failed");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("did not answer within"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Now ovsdb-server itself stops answering: the socket named with --ovsdb must work, so
    // this is an error, in one line, within the deadline.
    // SAFETY: plain kill(2) on our child.
    unsafe { libc::kill(server_pid, libc::SIGSTOP) };
    let (out, took) = topology("60");
    unsafe { libc::kill(server_pid, libc::SIGCONT) };
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("did not answer within"), "{stderr}");
}

/// Discovery holds a handful of descriptors whatever the number of namespaces: 120 namespaces,
/// each with a veth into a hub, are all found, peers resolved across namespaces, under a limit
/// of 64 open files (one socket and one file kept per namespace lost every namespace past the
/// limit, silently).
#[test]
fn many_namespaces_fit_in_a_small_open_file_limit() {
    const SPOKES: usize = 120;
    let mut lab = Lab::new("nofile");
    let hub = lab.netns("hub").unwrap();
    let mut spokes = Vec::new();
    for i in 0..SPOKES {
        let ns = lab.netns(&format!("s{i}")).unwrap();
        run(
            "ip",
            &[
                "-n",
                &ns,
                "link",
                "add",
                "spoke",
                "type",
                "veth",
                "peer",
                "name",
                &format!("h{i}"),
                "netns",
                &hub,
            ],
        )
        .unwrap();
        spokes.push(ns);
    }
    let out = std::process::Command::new("prlimit")
        .args(["--nofile=64:64", "--"])
        .arg(tracer::pathtrace_bin())
        .args(["topology", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let topo: Value = serde_json::from_slice(&out.stdout).unwrap();
    let netlink = tracer::named(&topo["sources"], "source", "netlink")["detail"].to_string();
    assert!(!netlink.contains("skipped"), "{netlink}");
    let hub_ino = iface(&topo, &hub, "h0")["netns"].clone();
    for (i, ns) in spokes.iter().enumerate() {
        let spoke = iface(&topo, ns, "spoke");
        assert_eq!(spoke["link"]["netns"], hub_ino, "{ns}: {spoke}");
        let peer = iface(&topo, &hub, &format!("h{i}"));
        assert_eq!(spoke["link"]["ifindex"], peer["ifindex"], "{ns}");
        assert_eq!(peer["link"]["netns"], spoke["netns"], "{ns}");
    }
}
