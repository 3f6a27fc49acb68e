//! Waking on changes to state files: an inotify descriptor used only as a wake-up.
//! What changed is always read back from the files, so a missed or merged event
//! costs a bounded wait, never a wrong answer.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// A non-blocking inotify descriptor and the directories it watches.
#[derive(Debug)]
pub struct Inotify {
    fd: OwnedFd,
}

impl Inotify {
    /// A descriptor watching nothing yet.
    pub fn new() -> io::Result<Inotify> {
        // SAFETY: plain syscall with flag arguments.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: inotify_init1 just returned this descriptor to us.
        Ok(Inotify {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    /// Also wakes on the `mask` events (`libc::IN_*`) of the directory `dir`. Watching
    /// a directory twice is harmless: the kernel keeps one watch per inode.
    pub fn watch(&self, dir: &Path, mask: u32) -> io::Result<()> {
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL"))?;
        // SAFETY: fd is our inotify descriptor and c a valid C string.
        if unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), mask) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The descriptor to poll: readable when something changed.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Blocks until something changed or `max` passed, then consumes the events.
    pub fn wait(&self, max: Duration) {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = max.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        if unsafe { libc::poll(&mut pfd, 1, ms) } > 0 {
            self.drain();
        }
    }

    /// Consumes whatever woke us.
    pub fn drain(&self) {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: buf is valid for its length; the descriptor is non-blocking.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return;
            }
        }
    }
}
