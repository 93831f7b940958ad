//! Real topologies for pathtrace's integration tests and demo: network namespaces joined by
//! veth pairs and Linux bridges, a dnsmasq DHCP server and real DHCP clients, plus a runner for
//! the `pathtrace` binary and checks that it left nothing in the kernel.
//!
//! Everything a [`Lab`] creates lives in namespaces it owns, so tearing the lab down (on drop,
//! also when a test panics) removes every interface, bridge and process with them.

pub mod bonded;
pub mod cmd;
pub mod dhcp;
pub mod faults;
pub mod journey_run;
pub mod journeys;
pub mod kernel_state;
pub mod lab;
pub mod octavia;
pub mod ovn;
pub mod ovs;
pub mod scenarios;
pub mod topologies;
pub mod tracer;

/// Serialises tests that look at host-wide kernel state (loaded programs): a test must not see
/// another test's pathtrace.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub use lab::Lab;
pub use tracer::{Tracer, TracerOutput};
