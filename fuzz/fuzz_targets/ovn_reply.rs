//! See `tracer::fuzz::ovn_reply`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tracer::fuzz::ovn_reply(data));
