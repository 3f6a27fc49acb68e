//! Spreading container directories over the filesystem: the "top directory"
//! flag (`chattr +T`) on the directories that hold one directory per container.
//!
//! ext4 puts a new directory in its parent's block group unless the parent is
//! a top directory (or the root), where the Orlov allocator spreads them. Left
//! in one or two groups, every container's files crowd the same inode bitmap,
//! and on ext4 without a journal each new inode scans past every inode of its
//! group freed in the last seconds (`recently_deleted`, 5 s, or 300 s while the
//! inode table block is dirty): an `up` right after a `down` was O(N^2) in
//! inodes, 27 % of all CPU in one profile. Spread, each container's directory
//! sits in a group of its own and the scan vanished from the profile.
//!
//! Filesystems without the flag (tmpfs, xfs, btrfs) refuse or ignore it; that
//! is not an error, only nothing to gain.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// `FS_TOPDIR_FL` (linux/fs.h; ext4's `EXT4_TOPDIR_FL`).
const FS_TOPDIR_FL: libc::c_int = 0x0002_0000;

/// The directories this process has already marked (one ioctl pair per
/// directory and command, not per container).
static MARKED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Marks `dir` as a top directory where its filesystem has the flag, once per
/// process; roots made before this existed get it on their first container.
/// False when `dir` could not be looked at (it does not exist yet).
pub fn spread_subdirs(dir: &Path) -> bool {
    let mut marked = MARKED.lock().unwrap_or_else(|e| e.into_inner());
    if marked.iter().any(|d| d == dir) {
        return true;
    }
    // Only a directory that exists counts as done: one made later is marked then.
    if set_topdir(dir).is_err() {
        return false;
    }
    marked.push(dir.to_path_buf());
    true
}

/// Makes `dir` with `builder` where it is missing, and marks it before the
/// first container's directory goes into it.
pub fn make_spread(dir: &Path, builder: &std::fs::DirBuilder) -> std::io::Result<()> {
    if !spread_subdirs(dir) {
        builder.create(dir)?;
        spread_subdirs(dir);
    }
    Ok(())
}

/// Sets the flag on `dir` unless it has it; `Ok` also where the filesystem
/// has no such flag (nothing more to do there).
fn set_topdir(dir: &Path) -> std::io::Result<()> {
    let f = std::fs::File::open(dir)?;
    let fd = f.as_raw_fd();
    let mut flags: libc::c_int = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one int (the kernel's interface is an
    // int whatever the ioctl number's size says) into `flags`, which we own.
    if unsafe { libc::ioctl(fd, libc::FS_IOC_GETFLAGS, &mut flags) } != 0 {
        return no_flags_here(std::io::Error::last_os_error());
    }
    if flags & FS_TOPDIR_FL != 0 {
        return Ok(());
    }
    flags |= FS_TOPDIR_FL;
    // SAFETY: FS_IOC_SETFLAGS reads one int from `flags`, which outlives the call.
    if unsafe { libc::ioctl(fd, libc::FS_IOC_SETFLAGS, &flags) } != 0 {
        return no_flags_here(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A filesystem without inode flags (ENOTTY, EOPNOTSUPP, EINVAL) or a caller
/// not allowed to set them (EPERM, rootless): done, nothing to gain.
fn no_flags_here(e: std::io::Error) -> std::io::Result<()> {
    match e.raw_os_error() {
        Some(libc::ENOTTY | libc::EOPNOTSUPP | libc::EINVAL | libc::EPERM | libc::EACCES) => Ok(()),
        _ => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marking_is_harmless_anywhere_and_sticks_where_supported() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("containers");
        // Not there yet: nothing marked, no error, and marked once it exists.
        assert!(!spread_subdirs(&dir));
        std::fs::create_dir(&dir).unwrap();
        assert!(spread_subdirs(&dir));
        assert!(spread_subdirs(&dir));
        let f = std::fs::File::open(&dir).unwrap();
        let mut flags: libc::c_int = 0;
        // SAFETY: as in set_topdir.
        if unsafe { libc::ioctl(f.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) } == 0
            && set_topdir(&dir).is_ok()
        {
            // A filesystem with inode flags but without this one (some
            // ignore unknown bits) keeps it unset; ext4 keeps it.
            let mut after: libc::c_int = 0;
            // SAFETY: as in set_topdir.
            unsafe { libc::ioctl(f.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut after) };
            let fs = nix_fs_type(&dir);
            if fs == 0xEF53 {
                assert_ne!(after & FS_TOPDIR_FL, 0, "ext4 keeps the top-directory flag");
            }
        }
    }

    fn nix_fs_type(p: &Path) -> libc::c_long {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: statfs writes into the zeroed struct we own.
        unsafe {
            let mut st: libc::statfs = std::mem::zeroed();
            libc::statfs(c.as_ptr(), &mut st);
            st.f_type as libc::c_long
        }
    }
}
