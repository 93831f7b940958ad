//! Network namespaces: entering one on the current thread ([`NetnsGuard`]) and naming them
//! ([`NetnsTable`]). A leaf: imports nothing of pathtrace.

mod guard;
mod table;

pub use guard::NetnsGuard;
pub use table::{netns_of_pid, Netns, NetnsTable, OWN_NETNS_LABEL};
