//! Renderers: journey text and pcapng, event lines (text, JSON Lines), topology tree/JSON/DOT,
//! path text. They format and take no decisions; they read journeys, paths, topologies and hops,
//! and only the commands call them.

mod dhcp_summary;
mod dot;
mod fit;
pub mod journey_dot;
pub mod journey_text;
pub mod journey_view;
pub mod json;
mod node_id;
mod paint;
pub mod pcapng;

/// The snake_case name an enum has in the JSON output, so text, DOT and JSON agree.
pub fn json_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
pub mod text;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One aligned line per event.
    Text,
    /// One JSON object per event, one per line (JSON Lines).
    Json,
}
pub mod path_text;
pub mod reach_text;
mod timeline;
pub mod topology_dot;
pub mod topology_filter;
pub mod topology_json;
mod topology_ovn_tree;
pub mod topology_tree;
#[cfg(test)]
mod view_tests;
