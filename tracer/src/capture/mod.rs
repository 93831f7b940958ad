//! Reading what the probes report: the ring buffer of events and the count of lost ones.

mod decode;
mod reader;
pub mod session;

pub use decode::{decode_record, Record};
pub use reader::EventReader;
