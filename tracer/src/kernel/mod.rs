//! Facts about the running kernel that the probes depend on: BTF-derived structure offsets and
//! drop-reason names, tracepoint record layouts from tracefs, and what the caller is allowed to
//! do (privileges). A leaf: imports nothing of pathtrace.

pub mod btf;
pub mod privileges;
pub mod tracefs;
