//! From raw kernel events to hops a person can read: which namespace and interface, what was
//! seen there. Pure logic over [`tracer_common::PacketEvent`] plus name tables, so it is tested
//! without a kernel.

mod hop;
mod names;

pub use hop::Hop;
#[cfg(test)]
pub use hop::{Dhcp, Ip};
pub use names::Names;
