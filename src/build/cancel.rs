//! Cancelling a build (Ctrl-C): a flag plus a descriptor that turns readable, so a
//! step blocked on a RUN container wakes at once, kills it and cleans up.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared between the signal side and every step of a build.
#[derive(Clone)]
pub struct Cancel {
    inner: Arc<Inner>,
}

struct Inner {
    flag: AtomicBool,
    read: OwnedFd,
    write: OwnedFd,
}

impl Cancel {
    /// A cancel handle not yet triggered.
    pub fn new() -> io::Result<Cancel> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 fills the two-element array on success.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 just returned both descriptors; each is owned once.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Cancel {
            inner: Arc::new(Inner {
                flag: AtomicBool::new(false),
                read,
                write,
            }),
        })
    }

    /// Cancels the build (async-signal-safe enough for a signal thread: one write).
    pub fn trigger(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
        // SAFETY: write of one byte from a local buffer to our own pipe; the byte is
        // never read, so the read end stays readable for every waiter.
        unsafe { libc::write(self.inner.write.as_raw_fd(), b"x".as_ptr().cast(), 1) };
    }

    /// Whether the build was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }

    /// A descriptor that becomes readable once cancelled (for poll).
    pub fn fd(&self) -> RawFd {
        self.inner.read.as_raw_fd()
    }
}
