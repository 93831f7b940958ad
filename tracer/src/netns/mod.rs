//! Network namespaces: entering one on the current thread ([`NetnsGuard`]), always the one that
//! was discovered ([`open_verified`]), and naming them ([`NetnsTable`]). A leaf: imports nothing of pathtrace.

mod guard;
mod open;
mod table;

pub use guard::NetnsGuard;
pub use open::{open_verified, NetnsGone};
pub use table::{netns_of_pid, Netns, NetnsTable, OWN_NETNS_LABEL};
