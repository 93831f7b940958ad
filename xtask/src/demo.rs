//! `cargo xtask demo`: two hosts on a Linux bridge, a real dnsmasq and a real dhclient, and
//! pathtrace following the DHCP exchange hop by hop. The topology is removed afterwards, also
//! on failure or Ctrl-C.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context as _, Result};
use pathtrace_testbed::{
    dhcp::{acquire_lease, DhcpClient},
    topologies::DhcpOnBridge,
    Lab, Tracer,
};

use crate::{
    setup,
    sh::{cargo, exec, workspace_root},
};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

pub fn run() -> Result<()> {
    setup::run(&setup::Options { host_only: true })?;
    exec(cargo().args(["build", "--release", "-p", "tracer"]))?;
    let bin = workspace_root().join("target/release/pathtrace");
    std::env::set_var("PATHTRACE_BIN", &bin);
    // Ctrl-C reaches pathtrace and the DHCP client (same process group) and ends them; we must
    // survive it to remove the topology.
    // SAFETY: the handler only stores to an atomic.
    unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };

    let mut lab = Lab::new("demo");
    let topo = DhcpOnBridge::build(&mut lab).context("cannot build the demo topology")?;
    println!(
        "\nTopology (network namespaces):\n\n  \
         [{c}] eth0 ({mac}) ── c0 ┐\n  \
         {pad}                       ├── br0 [{sw}]\n  \
         [{s}] eth0 (dnsmasq 10.77.0.1) ── s0 ┘\n\n  \
         dnsmasq host file: {mac} -> {ip}\n",
        c = topo.client,
        s = topo.server,
        sw = topo.switch,
        mac = topo.client_mac,
        ip = topo.reserved_ip,
        pad = " ".repeat(topo.client.len()),
    );
    let ifaces = topo.interface_args();
    let mut args = vec![
        "trace",
        "--filter-dhcp",
        "--filter-mac",
        topo.client_mac.as_str(),
    ];
    for i in &ifaces {
        args.extend(["-i", i.as_str()]);
    }
    println!("$ pathtrace {}\n", args.join(" "));
    let tracer = Tracer::start(&args)?;
    println!("$ ip netns exec {} dhclient -1 eth0\n", topo.client);
    let lease = acquire_lease(&mut lab, &topo.client, "eth0", DhcpClient::Dhclient);
    let out = tracer.stop(libc::SIGINT)?;
    // pathtrace's status lines go around its event lines, as they did live.
    let (ready, rest) = out.stderr.split_once('\n').unwrap_or((&out.stderr, ""));
    eprintln!("{ready}");
    print!("{}", out.stdout);
    eprint!("{rest}");
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted; topology removed");
    }
    let lease = lease?;
    println!(
        "\n{} got {} from dnsmasq (host file entry: {}). Removing the topology.",
        topo.client, lease, topo.reserved_ip
    );
    drop(lab);
    Ok(())
}
