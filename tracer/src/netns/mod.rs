//! Network namespaces: entering one on the current thread ([`NetnsGuard`]) and naming them
//! ([`NetnsTable`]).

mod guard;
mod table;

pub use guard::NetnsGuard;
pub use table::{Netns, NetnsTable, OWN_NETNS_LABEL};
