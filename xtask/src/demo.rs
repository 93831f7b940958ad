//! `cargo xtask demo`: seed 004's compute node with real Open vSwitch in a VM (the host kernel
//! has no openvswitch module). The VM's namespace gets its lease while `pathtrace --dhcp`
//! watches; then an OpenFlow drop flow is injected on br-eth2, pathtrace is stopped by Ctrl-C
//! (SIGINT) after the VM gave up, and it must name br-eth2 and the flow. Everything lives in
//! the VM and goes with it.

use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use pathtrace_testbed::{
    cmd,
    dhcp::{acquire_lease_within, DhcpClient},
    topologies::{BridgeLink, Seed004},
    Lab, Tracer,
};

use crate::{
    setup,
    sh::{cargo, exec, workspace_root},
    vm,
};

/// On the host: install, build, boot a VM and run [`in_guest`] there.
pub fn run() -> Result<i32> {
    setup::run(&setup::Options { host_only: false })?;
    exec(cargo().args(["build", "--release", "-p", "tracer"]))?;
    let xtask = std::env::current_exe().context("cannot find the xtask binary")?;
    let bin = workspace_root().join("target/release/pathtrace");
    println!("Booting a VM (Linux 6.12 with openvswitch, under TCG: about a minute)…");
    vm::run(&vm::Options {
        kernel: None,
        timeout: 600,
        memory: "2G".into(),
        command: vec![
            "env".into(),
            format!("PATHTRACE_BIN={}", bin.display()),
            xtask.display().to_string(),
            "demo-guest".into(),
        ],
    })
}

/// In the VM: the two runs of the demo. Fails if pathtrace does not say what it should.
pub fn in_guest() -> Result<i32> {
    let mut lab = Lab::new("demo");
    let topo = Seed004::build(&mut lab, BridgeLink::Patch).context("cannot build seed 004")?;
    println!(
        "\nSeed 004 (a Neutron compute node with Open vSwitch), built from namespaces:\n\n  \
         [vm] eth0 {mac} ── {tap} ── {qbr} ── {qvb} ══ {qvo} (br-int, tag 1)\n  \
         br-int ── int-br-eth2 ═ phy-br-eth2 ── br-eth2 (mod_vlan_vid 1 -> 1000) ── eth2\n  \
         eth2 ── … ── tapdhcp (VLAN 1000) [{qdhcp}: dnsmasq, host entry {mac} -> {ip}]\n",
        mac = topo.vm_mac,
        tap = topo.tap,
        qbr = topo.qbr,
        qvb = topo.qvb,
        qvo = topo.qvo,
        qdhcp = topo.qdhcp,
        ip = topo.reserved_ip,
    );
    let libvirt = topo.libvirt_dir.display().to_string();
    let neutron = topo.neutron_dhcp_dir.display().to_string();
    let args = |timeout: &'static str| {
        vec![
            "--dhcp".to_string(),
            topo.vm_mac.into(),
            "--timeout".into(),
            timeout.into(),
            "--libvirt-xml".into(),
            libvirt.clone(),
            "--neutron-dhcp-dir".into(),
            neutron.clone(),
        ]
    };

    println!("── 1. Healthy: the VM asks for its address ──\n");
    let (code, text) = journey(&mut lab, &topo, &args("60"), (60, Ending::ByItself))?;
    ensure!(
        code == 0,
        "pathtrace did not see the exchange delivered:\n{text}"
    );

    let phy = topo.ovs.ofport("phy-br-eth2")?;
    let flow = format!("priority=10,in_port={phy},udp,tp_dst=67,actions=drop");
    println!("── 2. Fault: a drop flow on br-eth2 ──\n\n$ ovs-ofctl add-flow br-eth2 {flow}\n");
    cmd::run("ovs-ofctl", &["add-flow", "br-eth2", &flow])?;
    // Stopped the way people stop it, by Ctrl-C once the VM gave up: the flow's counter is
    // still read before the verdict.
    let (code, text) = journey(&mut lab, &topo, &args("300"), (8, Ending::CtrlC))?;
    ensure!(
        code == 1 && text.contains("br-eth2") && text.contains("tp_dst=67"),
        "pathtrace did not name br-eth2 and the drop flow (exit {code}):\n{text}"
    );
    println!("pathtrace named the bridge and the flow. The VM and everything in it go away now.");
    Ok(0)
}

/// How a demo run of pathtrace ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// With the exchange (or its timeout).
    ByItself,
    /// By SIGINT, as Ctrl-C sends it, a moment after dhclient gave up.
    CtrlC,
}

/// `pathtrace ARGS` while dhclient runs in the VM for up to `client_secs`, ended as `ending`
/// says; prints what pathtrace printed, returns its exit status and output.
fn journey(
    lab: &mut Lab,
    topo: &Seed004,
    args: &[String],
    (client_secs, ending): (u32, Ending),
) -> Result<(i32, String)> {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    println!("$ pathtrace {}\n", argv.join(" "));
    let tracer = Tracer::start(&argv)?;
    println!("$ ip netns exec {} dhclient eth0\n", topo.vm);
    let lease = acquire_lease_within(lab, &topo.vm, "eth0", DhcpClient::Dhclient, client_secs);
    if ending == Ending::CtrlC {
        std::thread::sleep(Duration::from_secs(2));
        println!("^C   (SIGINT to pathtrace, 2 s after dhclient gave up)\n");
        tracer.signal(libc::SIGINT);
    }
    let out = tracer.wait()?;
    // Its status lines (what it attached, each DHCP message as it was seen), then the report.
    eprint!("{}", out.stderr);
    print!("{}", out.stdout);
    match lease {
        Ok(ip) => println!("\n(dhclient got {ip})\n"),
        Err(_) => println!("\n(dhclient got no lease)\n"),
    }
    std::thread::sleep(Duration::from_millis(200));
    Ok((out.status.code().unwrap_or(-1), out.stdout))
}
