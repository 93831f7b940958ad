//! Printing a command's result.

use std::io::Write as _;

use anyhow::{Context as _, Result};

/// A closed pipe (`| head`) is not an error worth a message.
pub fn write(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to stdout"),
    }
}
