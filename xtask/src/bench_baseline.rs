//! The measuring instrument's own cost: an empty TC program (`return TC_ACT_UNSPEC`) attached
//! next to pathtrace's, on the same hooks, for the same packets. `bpf_stats` wraps every
//! program run in two `sched_clock()` reads, and on a virtualised host those dominate a short
//! program; the empty program's `run_time_ns / run_cnt` is exactly that overhead, so
//! subtracting it leaves what our instructions cost.

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

use anyhow::{bail, Result};

/// From include/uapi/linux/bpf.h.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
pub const BPF_TCX_INGRESS: u32 = 46;
pub const BPF_TCX_EGRESS: u32 = 47;

/// `r0 = -1 (TC_ACT_UNSPEC); exit`, as `struct bpf_insn` (code, regs, off, imm).
const EMPTY_PROGRAM: [u64; 2] = [
    0xb7 | ((-1i32 as u32 as u64) << 32), // BPF_ALU64 | BPF_MOV | BPF_K, r0, imm -1
    0x95,                                 // BPF_JMP | BPF_EXIT
];

fn bpf(cmd: libc::c_long, attr: &[u64]) -> std::io::Result<i64> {
    // SAFETY: `attr` is a zero-padded `union bpf_attr` prefix of the size we pass; the kernel
    // validates every field and rejects non-zero tails it does not know.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_ptr(),
            std::mem::size_of_val(attr) as u32,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Loads the empty program; its name (`bench_empty_tc`) sets it apart in `bpftool prog show`.
pub fn load_empty() -> Result<OwnedFd> {
    let license = c"GPL";
    let mut name = [0u8; 16];
    name[..14].copy_from_slice(b"bench_empty_tc");
    let mut attr = [0u64; 16];
    attr[0] = BPF_PROG_TYPE_SCHED_CLS as u64 | ((EMPTY_PROGRAM.len() as u64) << 32);
    attr[1] = EMPTY_PROGRAM.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    // attr[3..6]: log level/size/buf, kern_version, prog_flags stay zero; the name follows.
    attr[6] = u64::from_ne_bytes(name[..8].try_into()?);
    attr[7] = u64::from_ne_bytes(name[8..].try_into()?);
    let fd = bpf(BPF_PROG_LOAD, &attr).map_err(|e| anyhow::anyhow!("BPF_PROG_LOAD: {e}"))?;
    // SAFETY: a new fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attaches `prog` last in the tcx chain of `ifindex` in the calling thread's namespace, so it
/// runs after pathtrace's program on every packet. Closing the fd detaches it.
pub fn attach(prog: &OwnedFd, ifindex: u32, attach_type: u32) -> Result<OwnedFd> {
    let mut attr = [0u64; 8];
    attr[0] = prog.as_raw_fd() as u64 | ((ifindex as u64) << 32);
    attr[1] = attach_type as u64;
    match bpf(BPF_LINK_CREATE, &attr) {
        // SAFETY: a new fd owned by nobody else.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => bail!("BPF_LINK_CREATE (tcx) on ifindex {ifindex}: {e}"),
    }
}

/// `(run_time_ns, run_cnt)` of a loaded program, from `struct bpf_prog_info`.
pub fn stats(prog: &OwnedFd) -> Result<(u64, u64)> {
    // run_time_ns and run_cnt are at bytes 192 and 200 of struct bpf_prog_info.
    let mut info = [0u64; 32];
    let attr = [
        prog.as_raw_fd() as u64 | ((std::mem::size_of_val(&info) as u64) << 32),
        info.as_mut_ptr() as u64,
    ];
    bpf(BPF_OBJ_GET_INFO_BY_FD, &attr).map_err(|e| anyhow::anyhow!("prog info: {e}"))?;
    Ok((info[24], info[25]))
}
