//! From hops to journeys: events grouped per packet and placed on the expected path
//! (`correlate`), the rows a person reads (`rows`), why a packet stopped (`verdict`), the report
//! with its DHCP exchange (`report`, `dhcp_report`, `dhcp`), whether the facts after the capture
//! were read (`after_capture`), and recordings for `replay`.
//! Pure logic over typed hops, expected paths and topologies: imports the event layer, `path`
//! and the topology model, never the kernel, namespaces or discovery sources.

pub mod after_capture;
pub mod attribute;
pub mod belongs;
pub mod benign;
pub mod correlate;
pub mod dhcp;
pub mod dhcp_report;
pub mod learned;
pub mod mode;
#[cfg(test)]
mod recorded_tests;
pub mod recording;
#[cfg(test)]
pub mod recordings;
pub mod report;
pub mod rows;
pub mod tcp;
pub mod verdict;
