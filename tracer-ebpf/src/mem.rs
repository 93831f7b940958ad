//! Word-wise zeroing and copying of events. The BPF target has no `memset`/`memcpy`, and for
//! structures this size LLVM calls the byte-at-a-time fallbacks in compiler-builtins: zeroing
//! and copying one 184-byte event that way executed some 2,500 instructions, most of the cost
//! of a reported packet. Volatile word accesses keep LLVM from folding them back into a call.

use core::ptr::{read_volatile, write_volatile};

/// Zeroes `*p` eight bytes at a time.
///
/// # Safety
/// `p` must be valid for writes and 8-aligned, and `T` a plain-data type whose size is a
/// multiple of 8.
#[inline(always)]
pub unsafe fn zero<T>(p: *mut T) {
    let words = const { words_of::<T>() };
    let p = p as *mut u64;
    for i in 0..words {
        write_volatile(p.add(i), 0);
    }
}

/// Copies `*src` to `*dst` eight bytes at a time.
///
/// # Safety
/// As [`zero`], for both pointers; `src` must be valid for reads.
#[inline(always)]
pub unsafe fn copy<T>(dst: *mut T, src: *const T) {
    let words = const { words_of::<T>() };
    let (dst, src) = (dst as *mut u64, src as *const u64);
    for i in 0..words {
        write_volatile(dst.add(i), read_volatile(src.add(i)));
    }
}

/// Zeroes `LEN` bytes at `p` four bytes at a time.
///
/// # Safety
/// `p` must be valid for `LEN` bytes of writes and 4-aligned; `LEN` a multiple of 4.
#[inline(always)]
pub unsafe fn zero_bytes<const LEN: usize>(p: *mut u8) {
    const { assert!(LEN % 4 == 0) };
    let p = p as *mut u32;
    for i in 0..LEN / 4 {
        write_volatile(p.add(i), 0);
    }
}

const fn words_of<T>() -> usize {
    assert!(core::mem::size_of::<T>() % 8 == 0 && core::mem::align_of::<T>() >= 8);
    core::mem::size_of::<T>() / 8
}
