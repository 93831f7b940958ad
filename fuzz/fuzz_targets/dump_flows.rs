//! See `tracer::fuzz::dump_flows`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tracer::fuzz::dump_flows(data));
