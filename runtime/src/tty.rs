//! The container's terminal: a pty from the container's own devpts instance, the slave
//! as stdio and /dev/console, the master handed to the caller.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use crate::error::{Error, Result};
use crate::syscall::linux::LinuxSyscall;
use crate::syscall::raw::{self, fd_path};
use crate::syscall::{Kind, Syscall, Target};

/// Open a new pty in the current mount namespace's /dev/pts: (master, slave).
pub fn open_pty() -> Result<(OwnedFd, OwnedFd)> {
    let master = raw::open(Path::new("/dev/ptmx"), libc::O_RDWR | libc::O_NOCTTY, 0)?;
    let unlock: libc::c_int = 0;
    raw::check(
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) },
        "unlock pty",
    )?;
    // TIOCGPTPEER opens the slave from the master itself: no path lookup an image could
    // redirect (the /dev/pts race fixed by that ioctl in 4.13).
    let fd = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Error::sys("open pty slave"));
    }
    Ok((master, unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Bind the slave over /dev/console (created as an empty file when missing).
pub fn bind_console(sys: &mut LinuxSyscall, slave: &OwnedFd) -> Result<()> {
    let t = Target::InRoot("/dev/console".into(), Kind::File);
    sys.mount(
        Some(&fd_path(slave.as_raw_fd())),
        &t,
        None,
        libc::MS_BIND as u64,
        None,
    )
}

/// Give the pty slave (and so /dev/console, bound from it) to the container's user, as
/// runc does for a terminal: a non-root process can then reopen /dev/tty, /dev/console
/// or /dev/pts/N (devpts creates it root-owned, mode 0620).
pub fn chown(slave: RawFd, uid: u32, gid: u32) -> Result<()> {
    raw::check(unsafe { libc::fchown(slave, uid, gid) }, "chown pty").map(|_| ())
}

/// Make `slave` stdin/stdout/stderr.
pub fn dup_stdio(slave: RawFd) -> Result<()> {
    for n in 0..3 {
        raw::check(unsafe { libc::dup2(slave, n) }, "dup2 pty")?;
    }
    Ok(())
}

/// Take the terminal on fd 0 as controlling terminal (after setsid).
pub fn set_controlling() -> Result<()> {
    raw::check(unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) }, "TIOCSCTTY").map(|_| ())
}

/// Set the window size of a pty (master or slave).
pub fn resize(fd: RawFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    raw::check(
        unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) },
        "TIOCSWINSZ",
    )
    .map(|_| ())
}

/// Send a pty master over a unix socket (runc's `--console-socket` protocol: one
/// SCM_RIGHTS message).
pub fn send_to_console_socket(path: &Path, master: RawFd) -> Result<()> {
    let sock = std::os::unix::net::UnixStream::connect(path).map_err(|e| Error::Path {
        op: "connect",
        path: path.into(),
        source: e,
    })?;
    let mut name = *b"/dev/ptmx";
    let mut iov = libc::iovec {
        iov_base: name.as_mut_ptr() as *mut libc::c_void,
        iov_len: name.len(),
    };
    let mut cmsg = [0u64; 4];
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    unsafe {
        hdr.msg_control = cmsg.as_mut_ptr() as *mut libc::c_void;
        hdr.msg_controllen = libc::CMSG_SPACE(4) as usize;
        let c = libc::CMSG_FIRSTHDR(&hdr);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut i32, master);
    }
    use std::os::fd::AsRawFd as _;
    if unsafe { libc::sendmsg(sock.as_raw_fd(), &hdr, libc::MSG_NOSIGNAL) } < 0 {
        return Err(Error::last("sendmsg", path));
    }
    Ok(())
}
