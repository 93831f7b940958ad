//! The kernel's own count of runs it skipped for a program (`bpf_prog_info.recursion_misses`):
//! a kprobe, tracepoint or BPF trampoline does not run while another BPF program of that kind
//! runs on the same CPU. A skipped run is a packet the probe never saw, so it is reported with
//! the lost events. aya 0.14 does not expose the field; it is read with `BPF_OBJ_GET_INFO_BY_FD`.

use std::os::fd::{AsRawFd as _, BorrowedFd};

use aya_obj::generated::{bpf_cmd, bpf_prog_info};

/// The `BPF_OBJ_GET_INFO_BY_FD` member of `union bpf_attr`.
#[repr(C)]
struct InfoByFd {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// Runs the kernel skipped for the program behind `fd`; `None` where the kernel does not count
/// them (before 5.12) or will not say.
pub fn recursion_misses(fd: BorrowedFd<'_>) -> Option<u64> {
    // SAFETY: plain old data, all-zero is valid.
    let mut info: bpf_prog_info = unsafe { std::mem::zeroed() };
    let mut attr = InfoByFd {
        bpf_fd: u32::try_from(fd.as_raw_fd()).ok()?,
        info_len: std::mem::size_of::<bpf_prog_info>() as u32,
        info: std::ptr::addr_of_mut!(info) as u64,
    };
    // SAFETY: `attr` and `info` outlive the call; the kernel writes at most `info_len` bytes.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            bpf_cmd::BPF_OBJ_GET_INFO_BY_FD as libc::c_long,
            std::ptr::addr_of_mut!(attr),
            std::mem::size_of::<InfoByFd>(),
        )
    };
    if rc != 0 {
        return None;
    }
    // The kernel writes back how much of the structure it knows.
    let known = std::mem::offset_of!(bpf_prog_info, recursion_misses) + std::mem::size_of::<u64>();
    (attr.info_len as usize >= known).then_some(info.recursion_misses)
}
