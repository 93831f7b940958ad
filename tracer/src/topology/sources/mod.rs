//! One module per source of topology facts. Each reads one thing (netlink, OVSDB, OpenFlow,
//! the kernel datapath, libvirt XML, dnsmasq, Neutron's DHCP agent state, OVN's databases) into the model's
//! types and knows nothing of the others; [`super::discover`] joins them.

pub mod bounded;
pub mod datapath;
pub mod dnsmasq;
mod ip_layer;
pub mod libvirt;
pub mod libvirt_dnsmasq;
pub mod links;
pub mod neutron_dhcp;
pub mod openflow;
pub mod ovn_copp;
pub mod ovn_local;
pub mod ovn_nb;
pub mod ovn_sb;
pub mod ovsdb;
pub mod ovsdb_rpc;
pub mod ovsdb_value;
pub mod processes;
pub mod untrusted;
