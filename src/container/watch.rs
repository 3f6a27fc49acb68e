//! Waking when a container's status changes, instead of polling on a timer.
//!
//! Supervisors replace `status.json` by rename, so a watch on each container directory
//! (and on the containers directory, for containers that appear) sees every change.
//! Waiters still re-read the status after each wake-up and bound each wait: a missed
//! event costs at most one bound, never a hang.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// An inotify instance watching container directories for status changes.
#[derive(Debug)]
pub struct StatusWatch {
    fd: OwnedFd,
}

const MASK: u32 = libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE | libc::IN_CREATE | libc::IN_DELETE;

impl StatusWatch {
    /// A watch on `containers_dir` (new and removed containers) and nothing else yet.
    pub fn new(containers_dir: &Path) -> io::Result<StatusWatch> {
        // SAFETY: inotify_init1 takes no pointers; the fd is owned from here on.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let w = StatusWatch {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        };
        w.add(containers_dir);
        Ok(w)
    }

    /// Also wakes on changes inside `dir` (a container's directory). Adding a directory
    /// twice is harmless (the kernel keeps one watch per inode); a directory that is
    /// gone is skipped, as its removal already woke the waiter.
    pub fn add(&self, dir: &Path) {
        let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return;
        };
        // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
        unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), MASK) };
    }

    /// Blocks until something changed under a watched directory or `max` passed, then
    /// drains the queued events.
    pub fn wait(&self, max: Duration) {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = max.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            self.drain();
        }
    }

    fn drain(&self) {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads into a buffer we own, of the length we pass.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_rename_into_a_watched_directory_wakes_the_waiter() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("c1");
        std::fs::create_dir(&dir).unwrap();
        let w = StatusWatch::new(root.path()).unwrap();
        w.add(&dir);
        let d = dir.clone();
        let t = std::thread::spawn(move || {
            std::fs::write(d.join(".status.json.tmp"), b"{}").unwrap();
            std::fs::rename(d.join(".status.json.tmp"), d.join("status.json")).unwrap();
        });
        let t0 = Instant::now();
        w.wait(Duration::from_secs(10));
        t.join().unwrap();
        assert!(t0.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn without_changes_the_wait_ends_at_its_bound() {
        let root = tempfile::tempdir().unwrap();
        let w = StatusWatch::new(root.path()).unwrap();
        let t0 = Instant::now();
        w.wait(Duration::from_millis(30));
        assert!(t0.elapsed() >= Duration::from_millis(30));
    }
}
