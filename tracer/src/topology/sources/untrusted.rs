//! Reading what other processes name. pathtrace runs as root beside tenants' workloads: a path
//! taken from a process's command line or a file it names may point anywhere, at a device, a
//! FIFO or a huge file, and its text may be anything. Files are opened strictly inside the
//! process's root (`openat2` with `RESOLVE_IN_ROOT`: `..` and absolute links stay inside it),
//! without blocking, only if regular and small; names and values shown back are escaped and
//! shortened; file content is never quoted.

use std::{
    ffi::CString,
    fs::File,
    io::Read as _,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    path::Path,
};

use anyhow::{bail, Context as _, Result};

/// The most pathtrace reads of one configuration or host file.
pub const MAX_FILE_BYTES: u64 = 4 << 20;
/// The most files it reads from one host directory.
pub const MAX_DIR_FILES: usize = 1024;
pub use crate::shown::shown;
#[cfg(test)]
use crate::shown::MAX_SHOWN_CHARS;

/// Opens `path` inside `root`, as a process whose root that is would (its `/` is `root`).
fn open_in_root(root: &Path, path: &str, flags: i32) -> Result<OwnedFd> {
    let root_dir = File::open(root).with_context(|| format!("cannot open {}", root.display()))?;
    let relative = path.trim_start_matches('/');
    let name = CString::new(if relative.is_empty() { "." } else { relative })
        .context("a NUL byte in the path")?;
    // SAFETY: open_how is plain integers; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: openat2 with a valid directory fd, a NUL-terminated path and an open_how of the
    // size passed; it returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root_dir.as_raw_fd(),
            name.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("cannot open it");
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The text of a regular file inside `root`, at most [`MAX_FILE_BYTES`].
pub fn read_in_root(root: &Path, path: &str) -> Result<String> {
    let file = File::from(open_in_root(root, path, libc::O_RDONLY)?);
    let meta = file.metadata().context("cannot stat it")?;
    if !meta.is_file() {
        bail!("not a regular file");
    }
    if meta.len() > MAX_FILE_BYTES {
        bail!("larger than {MAX_FILE_BYTES} bytes");
    }
    let mut bytes = Vec::new();
    // A file that grows while being read is still cut at the limit.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .context("cannot read it")?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        bail!("larger than {MAX_FILE_BYTES} bytes");
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("not text"))
}

/// Whether `path` inside `root` is a directory.
pub fn is_dir_in_root(root: &Path, path: &str) -> bool {
    open_in_root(root, path, libc::O_RDONLY | libc::O_DIRECTORY).is_ok()
}

/// The names in directory `path` inside `root`, sorted, at most [`MAX_DIR_FILES`].
pub fn list_in_root(root: &Path, path: &str) -> Result<Vec<String>> {
    let dir = open_in_root(root, path, libc::O_RDONLY | libc::O_DIRECTORY)?;
    // Through the fd we hold: the path is not resolved again.
    let listing = std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))
        .context("cannot list it")?;
    let mut names: Vec<String> = listing
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .take(MAX_DIR_FILES + 1)
        .collect();
    if names.len() > MAX_DIR_FILES {
        bail!("more than {MAX_DIR_FILES} files");
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "pathtrace-root-{}-{}",
            std::process::id(),
            std::thread::current()
                .name()
                .unwrap_or("t")
                .replace(':', "_")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc/hosts.d")).unwrap();
        dir
    }

    #[test]
    fn links_and_dotdot_stay_inside_the_root() {
        let r = root();
        std::fs::write(r.join("etc/hosts"), "02:00:00:00:00:01,10.0.0.1\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", r.join("etc/abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../etc/passwd", r.join("etc/rel")).unwrap();
        assert!(read_in_root(&r, "/etc/hosts").unwrap().contains("10.0.0.1"));
        // Both resolve to <root>/etc/passwd, which does not exist: never the host's.
        for p in ["/etc/abs", "etc/rel", "/../../etc/passwd"] {
            assert!(read_in_root(&r, p).is_err(), "{p}");
        }
        std::fs::remove_dir_all(&r).unwrap();
    }

    #[test]
    fn only_small_regular_files_are_read() {
        let r = root();
        let fifo = CString::new(r.join("etc/fifo").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let started = std::time::Instant::now();
        let err = read_in_root(&r, "/etc/fifo").unwrap_err();
        assert!(format!("{err:#}").contains("not a regular file"), "{err:#}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "blocked"
        );
        assert!(read_in_root(&r, "/etc").is_err());
        let big = File::create(r.join("etc/big")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = read_in_root(&r, "/etc/big").unwrap_err();
        assert!(format!("{err:#}").contains("larger than"), "{err:#}");
        std::fs::write(r.join("etc/bin"), [0xff, 0xfe, 0]).unwrap();
        assert!(read_in_root(&r, "/etc/bin").is_err());
        std::fs::write(r.join("etc/hosts.d/b"), "").unwrap();
        std::fs::write(r.join("etc/hosts.d/a"), "").unwrap();
        assert!(is_dir_in_root(&r, "/etc/hosts.d") && !is_dir_in_root(&r, "/etc/hosts.d/a"));
        assert_eq!(list_in_root(&r, "/etc/hosts.d").unwrap(), ["a", "b"]);
        std::fs::remove_dir_all(&r).unwrap();
    }

    #[test]
    fn untrusted_strings_are_escaped_and_short() {
        assert_eq!(shown("eth0"), "eth0");
        assert_eq!(shown("a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
        let long = "x".repeat(500);
        assert_eq!(shown(&long).chars().count(), MAX_SHOWN_CHARS + 1);
    }
}
