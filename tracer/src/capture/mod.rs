//! Reading what the probes report: the ring buffer of events, the count of lost ones, and the
//! names of what they number (the event layer's resolver, which may enter namespaces). Imports
//! probes, kernel facts, namespaces and the event vocabulary; nothing above.

mod decode;
mod names;
mod presence;
mod reader;
pub mod session;

pub use decode::{decode_record, Record};
pub use reader::EventReader;
pub use session::Losses;
