//! The conventional symlinks in /dev.

use std::path::Path;

use crate::error::Result;
use crate::syscall::Syscall;

/// /dev/fd, /dev/std{in,out,err} → /proc/self/fd/*, /dev/ptmx → pts/ptmx.
pub fn dev_links(sys: &mut dyn Syscall) -> Result<()> {
    for (target, link) in [
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
        ("pts/ptmx", "/dev/ptmx"),
    ] {
        sys.symlink(target, Path::new(link))?;
    }
    Ok(())
}
