//! tcx links made directly with `BPF_LINK_CREATE` from the loaded program's fd: an attachment
//! is then just an fd (closing it detaches, from any thread or namespace, and the kernel closes
//! it for us even on SIGKILL), and attaching does not need `&mut` on aya's program.

use std::os::fd::{AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd};

use anyhow::{bail, Result};

/// `enum bpf_cmd` / `enum bpf_attach_type` / flags from include/uapi/linux/bpf.h.
const BPF_LINK_CREATE: libc::c_long = 28;
pub const BPF_TCX_INGRESS: u32 = 46;
pub const BPF_TCX_EGRESS: u32 = 47;
/// With no relative program: before every program already attached (first in the chain).
const BPF_F_BEFORE: u32 = 1 << 3;

/// The `link_create` member of `union bpf_attr` for tcx.
#[repr(C)]
#[derive(Default)]
struct LinkCreateTcx {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
    relative_fd: u32,
    _pad: u32,
    expected_revision: u64,
    /// The rest of `union bpf_attr`, zeroed as the kernel requires.
    _rest: [u64; 8],
}

/// Attaches `prog` first in the tcx chain of `ifindex` (in the calling thread's namespace).
/// Closing the returned fd detaches it.
pub fn attach_first(prog: BorrowedFd<'_>, ifindex: u32, attach_type: u32) -> Result<OwnedFd> {
    let attr = LinkCreateTcx {
        prog_fd: prog.as_raw_fd() as u32,
        target_ifindex: ifindex,
        attach_type,
        flags: BPF_F_BEFORE,
        ..Default::default()
    };
    // SAFETY: BPF_LINK_CREATE with a correctly laid out, fully initialised attr of the size we
    // pass; the kernel checks every field.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_LINK_CREATE,
            &attr as *const LinkCreateTcx,
            std::mem::size_of::<LinkCreateTcx>() as u32,
        )
    };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        bail!("BPF_LINK_CREATE (tcx) on ifindex {ifindex}: {err}");
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
