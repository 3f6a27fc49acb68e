//! Removing a directory tree without holding its parent's lock while the
//! filesystem frees its blocks.
//!
//! `rmdir` drops the directory's last reference before it unlocks the parent,
//! so the inode is evicted, and its blocks freed, under the parent's lock. On
//! ext4 without a journal and with `discard`, freeing a block waits for a
//! discard on the device (milliseconds): every container's directory sits in
//! one parent (`containers/`, `<run>/containers/`), so a `down` of 50 removed
//! them one after the other, each rename and rmdir there waiting behind the
//! others' discards (2.2 s off-CPU in a profile of one `down` of 50). An open
//! descriptor keeps the directory alive through its rmdir: the eviction then
//! happens when it is closed, after the parent is unlocked, and the removals
//! overlap.

use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `std::fs::remove_dir_all(dir)`, with the directory's blocks freed after its
/// parent is unlocked (when `dir` can be opened: else as `remove_dir_all` does).
pub fn remove_tree(dir: &Path) -> io::Result<()> {
    // O_NOFOLLOW: a symlink in `dir`'s place is removed as a link by
    // remove_dir_all, never followed by this open either.
    let held = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir);
    let r = std::fs::remove_dir_all(dir);
    // The eviction, if this was the last reference, happens here.
    drop(held);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_a_tree_and_leaves_a_missing_one_missing() {
        let base = std::env::temp_dir().join(format!("berth-remove-tree-{}", std::process::id()));
        std::fs::create_dir_all(base.join("a/b")).unwrap();
        std::fs::write(base.join("a/b/f"), "x").unwrap();
        std::fs::write(base.join("g"), "y").unwrap();
        remove_tree(&base).unwrap();
        assert!(!base.exists());
        let e = remove_tree(&base).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_symlink_in_place_goes_as_a_link() {
        let base = std::env::temp_dir().join(format!("berth-remove-tree-l-{}", std::process::id()));
        let target = base.with_extension("target");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("kept"), "z").unwrap();
        std::os::unix::fs::symlink(&target, &base).unwrap();
        let _ = remove_tree(&base);
        assert!(target.join("kept").exists());
        std::fs::remove_dir_all(&target).unwrap();
        let _ = std::fs::remove_file(&base);
    }
}
