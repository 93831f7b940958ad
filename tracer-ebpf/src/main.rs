//! pathtrace's eBPF programs. One module per hook family (`tc`, `drops`, `ovs`); they share the
//! header parser ([`parse`]), the parse-then-filter decision ([`classify`]), kernel structure
//! access ([`kernel`]) and the event emitter ([`emit`]).
#![no_std]
#![no_main]

mod classify;
mod drops;
mod emit;
mod filter;
mod kernel;
mod mem;
mod ovs;
mod parse;
mod tc;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path, so this is never executed.
    loop {}
}
