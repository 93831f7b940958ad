//! Files the commands write for the user: created fresh next to the target with mode 0600,
//! without following a symlink, then renamed over it, so a reader never sees half a file and a
//! planted link never redirects the write.

use std::{
    fs::{self, OpenOptions},
    io::Write as _,
    os::unix::fs::OpenOptionsExt as _,
    path::Path,
};

use anyhow::{Context as _, Result};

/// Only the owner may read what pathtrace writes: it names every tenant's addresses.
const PRIVATE: u32 = 0o600;

pub fn write_private(file: &Path, bytes: &[u8]) -> Result<()> {
    let name = file
        .file_name()
        .with_context(|| format!("{} names no file", file.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = file.with_file_name(tmp_name);
    let write = || -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(PRIVATE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, file).with_context(|| format!("cannot write {}", file.display()))
    };
    let result = write();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
