//! The kernel/user contract holds for the object that is actually embedded: every map, program
//! and global that `tracer-common` names exists in it, with that kind.

use object::{Object as _, ObjectSection as _, ObjectSymbol as _};
use tracer_common as c;

use super::loader::EBPF_OBJECT;

/// Every program the contract names, besides the classifiers.
const PROGRAMS: [&str; 6] = [
    c::KFREE_SKB_BTF_PROGRAM,
    c::KFREE_SKB_TP_PROGRAM,
    c::OVS_RECEIVE_PROGRAM,
    c::OVS_SEND_PROGRAM,
    c::OVS_ACTION_PROGRAM,
    c::OVS_UPCALL_PROGRAM,
];

/// Every program the contract names: the classifiers of every namespace group and the others.
fn programs() -> impl Iterator<Item = &'static str> {
    c::TC_INGRESS_PROGRAMS
        .into_iter()
        .chain(c::TC_EGRESS_PROGRAMS)
        .chain(PROGRAMS)
}

#[test]
fn every_named_map_program_and_global_is_in_the_ebpf_object() {
    let obj = aya_obj::Object::parse(EBPF_OBJECT).expect("the embedded object parses");
    for map in [
        c::EVENTS_MAP,
        c::LOST_MAP,
        c::NETNS_BY_IFINDEX_MAP,
        c::NETNS_BY_DEV_MAP,
    ] {
        assert!(obj.maps.contains_key(map), "map {map} missing");
    }
    for program in programs() {
        assert!(
            obj.programs.contains_key(program),
            "program {program} missing"
        );
    }
    let elf = object::File::parse(EBPF_OBJECT).expect("the embedded object is ELF");
    for global in [
        c::FILTER_GLOBAL,
        c::OFFSETS_GLOBAL,
        c::TRACEPOINT_OFFSETS_GLOBAL,
    ] {
        let symbol = elf
            .symbols()
            .find(|s| s.name() == Ok(global))
            .unwrap_or_else(|| panic!("global {global} missing"));
        let section = symbol
            .section_index()
            .and_then(|i| elf.section_by_index(i).ok())
            .and_then(|s| s.name().ok().map(str::to_string));
        // Read-only data: userspace writes it once at load time (`EbpfLoader::set_global`).
        assert!(
            section.as_deref().is_some_and(|s| s.starts_with(".rodata")),
            "global {global} is in {section:?}, not .rodata"
        );
    }
    // What the probes write, zero when loaded: uninitialised data, one map the kernel gives
    // every program of the object at a fixed address.
    let sender = elf
        .symbols()
        .find(|s| s.name() == Ok(c::SENDER_GLOBAL))
        .expect("the learned sender global");
    let section = sender
        .section_index()
        .and_then(|i| elf.section_by_index(i).ok())
        .and_then(|s| s.name().ok().map(str::to_string));
    assert_eq!(section.as_deref(), Some(".bss"), "{section:?}");
    assert_eq!(
        sender.size() as usize,
        core::mem::size_of::<c::LearnedSender>()
    );
}

#[test]
fn the_ring_buffer_is_declared_with_the_default_size() {
    let obj = aya_obj::Object::parse(EBPF_OBJECT).unwrap();
    let events = &obj.maps[c::EVENTS_MAP];
    assert_eq!(events.max_entries(), c::wire::DEFAULT_RING_BUFFER_BYTES);
}

/// `BPF_STX | BPF_ATOMIC | BPF_DW`: a 64-bit atomic read-modify-write; with `imm == BPF_ADD`
/// it is an atomic add (`lock *(u64 *)(dst + off) += src`).
const BPF_ATOMIC_DW: u8 = 0xdb;
const BPF_ADD: i32 = 0x00;

/// A hook in softirq can interrupt another on the same CPU, so the loss counter must be
/// incremented atomically even though it is per CPU: every program that emits events has an
/// atomic add (a plain load-add-store lost counts).
#[test]
fn every_emitting_program_counts_losses_atomically() {
    let obj = aya_obj::Object::parse(EBPF_OBJECT).unwrap();
    for name in programs() {
        let function = &obj.functions[&obj.programs[name].function_key()];
        let atomic_adds = function
            .instructions
            .iter()
            .filter(|i| i.code == BPF_ATOMIC_DW && i.imm == BPF_ADD)
            .count();
        assert!(
            atomic_adds > 0,
            "{name} counts its losses with no atomic add"
        );
    }
}
