//! One module per source of topology facts. Each reads one thing (netlink, OVSDB, OpenFlow,
//! the kernel datapath, libvirt XML, dnsmasq) and knows nothing of the others; [`super::discover`] joins them.

pub mod datapath;
pub mod dnsmasq;
pub mod libvirt;
pub mod links;
pub mod openflow;
pub mod ovsdb;
