//! The per-project lock: two berth commands on one project run one after the other.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::{IoContext, StateError};

/// An exclusive `flock` on `<root>/projects/<name>.lock`, released on drop or exit.
#[derive(Debug)]
pub struct ProjectLock {
    _file: File,
    path: PathBuf,
}

impl ProjectLock {
    /// Blocks until this process holds the lock for `project` under `root`.
    pub fn acquire(root: &Path, project: &str) -> Result<ProjectLock, StateError> {
        let dir = root.join("projects");
        fs::create_dir_all(&dir).at("create directory", &dir)?;
        let path = dir.join(format!("{project}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .at("open", &path)?;
        // flock, not fcntl locks: it belongs to the open file, so a killed berth
        // releases it with its last descriptor and threads cannot trip over it.
        loop {
            // SAFETY: flock on a descriptor we own; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err).at("lock", &path);
            }
        }
        Ok(ProjectLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Opens (creating) `path` and takes an exclusive `flock` without waiting:
/// `Some(file)` holds it until dropped, `None` means another holder has it.
pub fn try_lock(path: &Path) -> std::io::Result<Option<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    // SAFETY: flock on a descriptor we own; released when `file` closes.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(Some(file));
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(err)
    }
}

/// Whether nobody holds the `flock` on `path` (a missing file is free), seen
/// without creating or writing it. The file is opened read-only: a writable
/// open and close is an `IN_CLOSE_WRITE` for whoever watches its directory,
/// and a waiter that probed with [`try_lock`] while watching the run dir woke
/// itself with every probe (900 spins in one `up` while the DNS responder
/// started). The probe holds the lock for an instant, as [`try_lock`] does.
pub fn lock_free(path: &Path) -> std::io::Result<bool> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e),
    };
    // SAFETY: flock on a descriptor we own; released when `file` closes.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = ProjectLock::acquire(dir.path(), "p").unwrap();
        let (tx, rx) = mpsc::channel();
        let root = dir.path().to_path_buf();
        let t = std::thread::spawn(move || {
            let _second = ProjectLock::acquire(&root, "p").unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(first);
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        t.join().unwrap();
    }

    #[test]
    fn try_lock_says_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = try_lock(&path).unwrap();
        assert!(held.is_some());
        assert!(try_lock(&path).unwrap().is_none());
        drop(held);
        assert!(try_lock(&path).unwrap().is_some());
    }

    #[test]
    fn lock_free_looks_without_making_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        assert!(lock_free(&path).unwrap());
        assert!(!path.exists());
        let held = try_lock(&path).unwrap();
        assert!(!lock_free(&path).unwrap());
        drop(held);
        assert!(lock_free(&path).unwrap());
    }

    #[test]
    fn other_projects_do_not_wait() {
        let dir = tempfile::tempdir().unwrap();
        let _a = ProjectLock::acquire(dir.path(), "a").unwrap();
        let _b = ProjectLock::acquire(dir.path(), "b").unwrap();
    }
}
