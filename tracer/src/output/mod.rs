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
pub mod path_text;
pub mod topology_dot;
pub mod topology_filter;
pub mod topology_tree;
