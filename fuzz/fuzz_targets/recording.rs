//! See `tracer::fuzz::recording`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tracer::fuzz::recording(data));
