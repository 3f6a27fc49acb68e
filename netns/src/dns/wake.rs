//! Waking the serve loop when the network records change: an inotify descriptor on
//! the records directory, used only as a wake-up. What changed is always read back
//! from the records, so a missed or merged event costs one poll interval, never a
//! wrong answer. Without it a new network waited up to a whole poll interval for its
//! listener, and every `up` that made a network waited with it.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// Events that change what a records directory holds (records are replaced by rename).
const MASK: u32 = libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_MOVED_FROM
    | libc::IN_DELETE
    | libc::IN_CLOSE_WRITE;

/// A non-blocking inotify descriptor watching one directory.
#[derive(Debug)]
pub struct Wake {
    fd: OwnedFd,
}

impl Wake {
    /// Watches `dir`; `None` when inotify is unavailable (the loop then polls).
    pub fn on_changes_in(dir: &Path) -> Option<Wake> {
        // SAFETY: plain syscall with flag arguments.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return None;
        }
        // SAFETY: inotify_init1 just returned this descriptor to us.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: fd is our inotify descriptor and c a valid C string.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), MASK) } < 0 {
            return None;
        }
        Some(Wake { fd })
    }

    /// Blocks until something in the directory changed or `max` passed, then
    /// consumes the events.
    pub fn wait(&self, max: Duration) {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = max.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        if unsafe { libc::poll(&mut pfd, 1, ms) } > 0 {
            let mut buf = [0u8; 4096];
            // SAFETY: buf is valid for its length; the descriptor is non-blocking.
            while unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0
            {
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("berth-dns-wake-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_new_record_wakes_the_wait_at_once() {
        let dir = scratch("new");
        let wake = Wake::on_changes_in(&dir).unwrap();
        // Written before the wait: the queued event still ends it at once.
        std::fs::write(dir.join("n.json"), b"{}").unwrap();
        let t0 = Instant::now();
        wake.wait(Duration::from_secs(10));
        let waited = t0.elapsed();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(waited < Duration::from_secs(5), "woke only at the timeout");
    }

    #[test]
    fn without_changes_it_waits_the_interval() {
        let dir = scratch("quiet");
        let wake = Wake::on_changes_in(&dir).unwrap();
        let t0 = Instant::now();
        wake.wait(Duration::from_millis(30));
        let waited = t0.elapsed();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(waited >= Duration::from_millis(25));
    }
}
