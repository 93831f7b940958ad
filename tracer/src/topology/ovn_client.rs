//! The OVN logical port of the VM or pod that sends from a MAC, joined from the logical network
//! and the integration bridge's interfaces, with what keeps ovn-controller from answering its
//! DHCP.

use super::{ovn::DhcpGap, sources::untrusted::shown, Topology};
use crate::mac::Mac;

/// A client's logical port.
pub struct ClientPort {
    /// Its name, escaped for output (it comes from the Northbound database).
    pub name: String,
    /// Why ovn-controller will not answer its DHCP, if something says so.
    pub dhcp_gap: Option<DhcpGap>,
}

/// The VIF port listing `mac`, else the one the `iface-id` of an integration bridge interface
/// whose `attached-mac` is `mac` names.
pub fn client_port(topo: &Topology, mac: Mac) -> Option<ClientPort> {
    let ovn = topo.ovn.as_ref()?;
    let port = ovn.port_with_mac(mac).or_else(|| {
        topo.ovs_bridges
            .iter()
            .filter(|b| b.name == ovn.integration_bridge)
            .flat_map(|b| b.ports.iter().flat_map(|p| &p.interfaces))
            .filter(|i| i.attached_mac() == Some(mac))
            .find_map(|i| ovn.port_named(i.external_ids.get("iface-id")?))
    })?;
    Some(ClientPort {
        name: shown(&ovn.port(port).name),
        dhcp_gap: ovn.dhcp_gap(port),
    })
}
