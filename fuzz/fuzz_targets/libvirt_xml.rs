//! See `tracer::fuzz::libvirt_xml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tracer::fuzz::libvirt_xml(data));
