//! Open vSwitch kernel datapath ports (`ovs-dpctl show`): the port numbers the datapath's
//! actions and vport probes use, which are not the OpenFlow port numbers OVSDB stores.

use std::{collections::HashMap, process::Command};

/// Datapath port number -> port name, for every kernel datapath; empty when `ovs-dpctl` is not
/// installed or there is no datapath (the vport probes teach the names then).
pub fn ports() -> HashMap<u32, String> {
    let mut cmd = Command::new("ovs-dpctl");
    cmd.arg("show");
    match super::bounded::output(cmd, super::bounded::OVS_DEADLINE) {
        Ok(out) if out.status.success() => parse_show(&String::from_utf8_lossy(&out.stdout)),
        _ => HashMap::new(),
    }
}

/// Parses `ovs-dpctl show` output: `  port 3: qvo53903a95-82` or `  port 1: br-int (internal)`.
pub fn parse_show(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("port ")?;
            let (number, name) = rest.split_once(':')?;
            let name = name.split_whitespace().next()?;
            Some((number.trim().parse().ok()?, name.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dpctl_show() {
        let text = "system@ovs-system:
  lookups: hit:12 missed:7 lost:0
  flows: 2
  masks: hit:20 total:2 hit/pkt:1.05
  cache: hit:10 hit-rate:52.63%
  caches:
    masks-cache: size:256
  port 0: ovs-system (internal)
  port 1: br-int (internal)
  port 2: qvo53903a95-82
  port 3: eth2
  port 4: tapdhcp (internal)
";
        let ports = parse_show(text);
        assert_eq!(ports.len(), 5);
        assert_eq!(ports[&2], "qvo53903a95-82");
        assert_eq!(ports[&4], "tapdhcp");
    }
}
