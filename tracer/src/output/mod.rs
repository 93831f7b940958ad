//! Renderers. They format; they take no decisions.

pub mod json;
pub mod text;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One aligned line per event.
    Text,
    /// One JSON object per event, one per line (JSON Lines).
    Json,
}
