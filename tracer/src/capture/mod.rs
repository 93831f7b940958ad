//! Reading what the probes report: the ring buffer of events, the count of lost ones, and the
//! names of what they number (the event layer's resolver, which may enter namespaces). Imports
//! probes, kernel facts, namespaces and the event vocabulary; nothing above.

mod decode;
mod drain;
mod lost;
mod names;
mod presence;
pub mod session;

pub use decode::{decode_record, Record};
pub use session::Losses;
