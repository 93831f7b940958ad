//! From raw kernel events to hops a person can read (which namespace and interface, what was
//! seen there), then to journeys: events grouped per packet, placed on the expected path, and
//! judged. Pure logic over [`tracer_common::PacketEvent`], name tables and topologies, so it is
//! tested without a kernel.

pub mod correlate;
pub mod dhcp;
mod hop;
mod names;
#[cfg(test)]
mod recorded_tests;
pub mod recording;
pub mod report;
pub mod verdict;

pub use hop::Hop;
#[cfg(test)]
pub use hop::{Dhcp, Ip};
pub use names::Names;
