//! pathtrace's eBPF programs. One module per hook family (`tc`, `drops`, `ovs`); they share the
//! header parser ([`parse`]), the parse-then-filter decision ([`classify`]), kernel structure
//! access ([`kernel`], [`netns`]) and the event emitter ([`emit`]).
#![no_std]
#![no_main]
// For `atomic_xadd`: the bpfel target offers no atomic read-modify-write types (see `emit`).
#![feature(core_intrinsics)]
#![allow(internal_features)]

mod classify;
mod drops;
mod emit;
mod filter;
mod kernel;
mod mem;
mod netns;
mod ovs;
mod parse;
mod sender;
mod tc;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path, so this is never executed.
    loop {}
}
