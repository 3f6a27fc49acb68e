//! The seam between what the runtime decides to do inside a root filesystem and the
//! kernel: `LinuxSyscall` does it, `RecordingSyscall` (tests) only writes it down, so the
//! mount order can be unit-tested without root.

pub mod linux;
pub mod raw;
pub mod spawn;
#[cfg(test)]
pub mod test;

use std::path::{Path, PathBuf};

use crate::error::Result;

/// Where a mount lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host path (the rootfs mount point itself, before the root is open).
    Host(PathBuf),
    /// A path inside the root, resolved by file descriptor; created as `Kind` if missing.
    InRoot(PathBuf, Kind),
}

/// What to create when a mount target is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// An empty regular file (bind mounts of files).
    File,
}

/// Kernel operations used to build a container's root filesystem.
pub trait Syscall {
    /// mount(2) onto `target`.
    fn mount(
        &mut self,
        source: Option<&str>,
        target: &Target,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> Result<()>;
    /// Open `path` (a host path) as the root every `Target::InRoot` is resolved against.
    fn set_root(&mut self, path: &Path) -> Result<()>;
    /// Whether a bind source on the host is a directory.
    fn source_is_dir(&self, source: &Path) -> bool;
    /// mknod(2) inside the root.
    fn mknod(&mut self, path: &Path, mode: u32, dev: u64, uid: u32, gid: u32) -> Result<()>;
    /// symlink(2) inside the root: `link` points to `target`.
    fn symlink(&mut self, target: &str, link: &Path) -> Result<()>;
    /// Move into the root with pivot_root(".", ".") and drop the old root.
    fn pivot_root(&mut self) -> Result<()>;
    /// Without a mount namespace of our own: chroot into the root (pivot_root would
    /// move the host's `/`).
    fn chroot(&mut self) -> Result<()>;
    /// In a new user namespace: become its root (uid and gid 0, no supplementary groups).
    fn become_root(&mut self) -> Result<()>;
    /// Hide `path` inside the root: a read-only tmpfs over a directory, `/dev/null` over a file.
    fn mask(&mut self, path: &Path) -> Result<()>;
    /// Make `path` inside the root a read-only bind of itself; a missing path is skipped.
    fn readonly(&mut self, path: &Path) -> Result<()>;
    /// Create the directory `path` inside the root and every missing parent (0755).
    fn mkdir_all(&mut self, path: &Path) -> Result<()>;
}
