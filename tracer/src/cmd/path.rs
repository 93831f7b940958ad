//! `pathtrace path`: the path a packet from a MAC is expected to take, hop by hop.

use anyhow::{Context as _, Result};

use super::stdout;
use crate::{
    cli::PathArgs,
    kernel::privileges,
    netns::OWN_NETNS_LABEL,
    output::{self, Format},
    path::{self, Destination, Goal},
    probes::InterfaceSpec,
    topology::{self, IfaceKey, Topology},
};

pub fn run(args: &PathArgs) -> Result<u8> {
    privileges::require_discovery_privileges()?;
    let topo = topology::discover(&args.discovery.options())?;
    let goal = match (&args.to, args.dhcp, args.dst) {
        (Some(to), _, _) => Goal::Interface(resolve_interface(&topo, to)?),
        (None, true, _) => Goal::Dhcp,
        (None, false, Some(ip)) => Goal::Destination(Destination { ip, mac: None }),
        // No goal: where a frame from the MAC can go.
        (None, false, None) => {
            let reach = path::reach::reach(&topo, args.mac)?;
            let text = match args.output {
                Format::Text => output::reach_text::render(&reach),
                Format::Json => serde_json::to_string_pretty(&reach)? + "\n",
            };
            stdout::write(&text)?;
            return Ok(0);
        }
    };
    let expected = path::compute(&topo, args.mac, &goal)?;
    let text = match args.output {
        Format::Text => output::path_text::render(&expected),
        Format::Json => serde_json::to_string_pretty(&expected)? + "\n",
    };
    stdout::write(&text)?;
    Ok(0)
}

fn resolve_interface(topo: &Topology, spec: &str) -> Result<IfaceKey> {
    let spec = InterfaceSpec::parse(spec).map_err(anyhow::Error::msg)?;
    let name = spec.name.context("--to needs one interface, not NETNS:*")?;
    let netns = spec.netns.unwrap_or_else(|| OWN_NETNS_LABEL.to_string());
    topo.interfaces
        .iter()
        .find(|i| i.netns_name == netns && i.name == name)
        .map(|i| i.key)
        .with_context(|| format!("no interface {name} in namespace {netns}"))
}
