//! The commands, one file each: the only code that knows the command line. Each wires the
//! stages together (discover -> path -> probes -> capture -> event -> journey -> output) and
//! takes no decision of its own.

mod conclude;
mod evidence;
mod files;
pub mod journey;
pub mod path;
pub mod replay;
mod status;
mod stdout;
pub mod stream;
mod terminal;
pub mod topology;

/// Exit status for a journey that did not arrive (stopped or unseen).
pub const EXIT_NOT_DELIVERED: u8 = 1;
