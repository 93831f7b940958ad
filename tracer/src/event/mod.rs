//! The typed event layer: a kernel record becomes a [`Hop`] (which hook, which interface, what
//! the packet was), with its vocabulary as enums. Below every stage that reads events (capture
//! implements [`Resolver`], journey and output read hops); it imports only `mac` and the kernel
//! contract, and never touches the kernel.

mod decode;
mod dhcp_message;
mod hook_status;
mod hop;
mod kinds;
mod ovs_action;
mod sighting;
#[cfg(test)]
mod test_names;
#[cfg(test)]
mod tests;
mod timings;
mod vanished;

pub use decode::Resolver;
pub use dhcp_message::DhcpMessage;
pub use hook_status::HookStatus;
#[cfg(test)]
pub use hop::{Dhcp, Icmp, Ip, PushVlan, Vlan};
pub use hop::{Hop, Ovs};
pub use kinds::{Direction, DropReason, HookKind, TagSource, UpcallKind};
pub use ovs_action::OvsAction;
pub use sighting::{hex, unhex, Sighting, Sightings};
#[cfg(test)]
pub use test_names::TableNames;
pub use timings::Timings;
pub use vanished::{Gone, Vanished};
