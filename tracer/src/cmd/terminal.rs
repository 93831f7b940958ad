//! What the terminal the report goes to allows: colour, and how wide a line may be.

use std::io::IsTerminal as _;

/// Without a terminal or `COLUMNS`: wide enough for a flow rule on one line.
const DEFAULT_WIDTH: usize = 100;
/// Narrower than this, the columns cannot line up anyway.
const MIN_WIDTH: usize = 40;

/// Colour on a terminal, never with `NO_COLOR` set (<https://no-color.org>).
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The terminal's width; else `COLUMNS`; else a default.
pub fn width() -> usize {
    terminal_columns()
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH)
}

fn terminal_columns() -> Option<usize> {
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into the pointed-to struct.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}
