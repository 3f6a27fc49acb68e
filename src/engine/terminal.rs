//! The local terminal and signals for interactive sessions (`exec`, `run`, `attach`):
//! raw mode, the window size, and signals turned into bytes on a pipe that a poll
//! loop can wait on.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The size of the terminal on `fd`: (rows, cols).
pub fn window_size(fd: RawFd) -> Option<(u16, u16)> {
    // SAFETY: a zeroed winsize is valid; TIOCGWINSZ fills it.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: ioctl with a pointer to a winsize we own.
    if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } != 0 || ws.ws_row == 0 {
        return None;
    }
    Some((ws.ws_row, ws.ws_col))
}

/// The local terminal in raw mode until dropped (also on error and panic unwinding).
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    /// Puts the terminal on `fd` in raw mode; None when it is not a terminal.
    pub fn enter(fd: RawFd) -> Option<RawMode> {
        // SAFETY: a zeroed termios is valid; tcgetattr fills it.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr on a descriptor, with a termios we own.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return None;
        }
        let mut raw = saved;
        // SAFETY: cfmakeraw and tcsetattr on our own termios copy.
        unsafe {
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(fd, libc::TCSANOW, &raw) != 0 {
                return None;
            }
        }
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enter`.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

/// The write end the handler writes to; one session per process at a time.
static SIGNAL_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = SIGNAL_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = signal as u8;
        // SAFETY: write(2) is async-signal-safe; the byte names the signal.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Signals delivered as bytes on a pipe while it lives; their default dispositions
/// come back when it is dropped.
pub struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
    signals: Vec<libc::c_int>,
}

impl SignalPipe {
    /// Catches `signals` from now on.
    pub fn install(signals: &[libc::c_int]) -> std::io::Result<SignalPipe> {
        let (read, write) = pipe()?;
        SIGNAL_FD.store(write.as_raw_fd(), Ordering::Relaxed);
        for &s in signals {
            // SAFETY: installs a handler that only writes one byte to a pipe.
            unsafe {
                libc::signal(
                    s,
                    on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
                )
            };
        }
        Ok(SignalPipe {
            read,
            _write: write,
            signals: signals.to_vec(),
        })
    }

    /// The descriptor to poll for readability.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// The signals caught since the last call.
    pub fn take(&self) -> Vec<libc::c_int> {
        let mut b = [0u8; 64];
        // SAFETY: reading into our buffer from our non-blocking pipe.
        let n = unsafe { libc::read(self.read.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
        b[..n.max(0) as usize]
            .iter()
            .map(|&s| s as libc::c_int)
            .collect()
    }
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        SIGNAL_FD.store(-1, Ordering::Relaxed);
        for &s in &self.signals {
            // SAFETY: back to the default disposition.
            unsafe { libc::signal(s, libc::SIG_DFL) };
        }
    }
}

/// A pollfd waiting for input on `fd` (a negative `fd` is skipped by poll).
pub fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// A non-blocking, close-on-exec pipe: (read, write).
pub fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these two descriptors to us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sets O_NONBLOCK on `fd`.
pub fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we hold.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

/// poll(2) that retries when interrupted by a signal (the signal pipe reports it).
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> std::io::Result<usize> {
    loop {
        // SAFETY: fds is a valid array of pollfd for its length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_signal_arrives_on_the_pipe() {
        let p = SignalPipe::install(&[libc::SIGUSR2]).unwrap();
        // SAFETY: raising a signal we catch.
        unsafe { libc::raise(libc::SIGUSR2) };
        assert_eq!(p.take(), vec![libc::SIGUSR2]);
    }

    #[test]
    fn a_pipe_is_not_a_terminal() {
        let (r, _w) = pipe().unwrap();
        assert!(RawMode::enter(r.as_raw_fd()).is_none());
        assert!(window_size(r.as_raw_fd()).is_none());
    }
}
