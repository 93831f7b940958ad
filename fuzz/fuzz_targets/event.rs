//! See `tracer::fuzz::event`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tracer::fuzz::event(data));
