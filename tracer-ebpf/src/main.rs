//! pathtrace's eBPF programs. One module per hook family; they share the header parser
//! ([`parse`]), the in-kernel filter ([`filter`]) and the event emitter ([`emit`]).
#![no_std]
#![no_main]

mod drops;
mod emit;
mod filter;
mod kernel;
mod parse;
mod tc;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path, so this is never executed.
    loop {}
}
