//! See `tracer::fuzz::ovsdb_reply`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tracer::fuzz::ovsdb_reply(data));
