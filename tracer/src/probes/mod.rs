//! Everything pathtrace puts into the kernel, and its lifetime. Read this module to know what
//! is attached where: each attachment is a guard whose `Drop` removes it (in the right network
//! namespace), so normal exit, `?` errors and signals (which end the event loop normally) all
//! leave the kernel as it was. Also what is attached where is chosen here: the interface specs
//! of `trace -i` and the kernel filter. Imports the kernel facts, namespaces and the event
//! vocabulary (hook status), nothing above.

mod clsact;
#[cfg(test)]
mod contract_tests;
mod drops;
mod filter;
mod interfaces;
mod loader;
mod missed;
mod netns_groups;
pub mod ovs;
pub mod tc;
mod tcx;
mod verify;

pub use drops::{DropHook, DropProbe};
pub use filter::FilterSpec;
pub use interfaces::{push_unique, resolve_interfaces, InterfaceSpec};
pub use loader::{BtfParse, LoadedProbes, ProbeConfig};
pub use netns_groups::NetnsGroups;
pub use ovs::OvsLink;
pub use tc::{AttachMode, Interface, TcAttachment};
