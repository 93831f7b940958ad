//! `pathtrace topology` and `pathtrace path`: discovery and the expected path, printed.

use std::io::Write as _;

use anyhow::{Context as _, Result};

use crate::{
    cli::{InterfaceSpec, PathArgs, TopologyArgs, TopologyFormat},
    kernel::privileges,
    output::{self, Format},
    path::{self, Goal},
    topology::{self, Topology},
};

pub fn topology(args: TopologyArgs) -> Result<()> {
    privileges::require_discovery_privileges()?;
    let topo = topology::discover(&args.discovery.options())?;
    let only = match &args.netns {
        Some(ns) => Some(output::topology_filter::netns_ino(&topo, ns)?),
        None => None,
    };
    let text = match (args.format, only) {
        // The tree names peers in other namespaces, so it needs the whole topology.
        (TopologyFormat::Tree, _) => output::topology_tree::render(&topo, only),
        (format, Some(ino)) => {
            render_graph(&output::topology_filter::only_netns(topo, ino), format)?
        }
        (format, None) => render_graph(&topo, format)?,
    };
    write_stdout(&text)
}

fn render_graph(topo: &Topology, format: TopologyFormat) -> Result<String> {
    Ok(match format {
        TopologyFormat::Json => serde_json::to_string_pretty(topo)? + "\n",
        _ => output::topology_dot::render(topo),
    })
}

pub fn path(args: PathArgs) -> Result<()> {
    privileges::require_discovery_privileges()?;
    let topo = topology::discover(&args.discovery.options())?;
    let goal = match (&args.to, args.dhcp) {
        (Some(to), _) => Goal::Interface(resolve_interface(&topo, to)?),
        (None, true) => Goal::Dhcp,
        (None, false) => Goal::Uplink,
    };
    let expected = path::compute(&topo, args.mac, &goal)?;
    let text = match args.output {
        Format::Text => output::path_text::render(&expected),
        Format::Json => serde_json::to_string_pretty(&expected)? + "\n",
    };
    write_stdout(&text)
}

fn resolve_interface(topo: &Topology, spec: &str) -> Result<topology::IfaceKey> {
    let spec = InterfaceSpec::parse(spec).map_err(anyhow::Error::msg)?;
    let name = spec.name.context("--to needs one interface, not NETNS:*")?;
    let netns = spec
        .netns
        .unwrap_or_else(|| crate::netns::OWN_NETNS_LABEL.to_string());
    topo.interfaces
        .iter()
        .find(|i| i.netns_name == netns && i.name == name)
        .map(|i| i.key)
        .with_context(|| format!("no interface {name} in namespace {netns}"))
}

/// A closed pipe (`| head`) is not an error worth a message.
pub fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to stdout"),
    }
}
