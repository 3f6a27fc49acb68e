//! A SOCK_SEQPACKET socketpair carrying length-prefixed JSON messages (and, for the pty
//! master, a file descriptor). EOF means the peer is gone: each side closes the ends it
//! does not use right away, and the init's end is close-on-exec, so a successful execve
//! reads as EOF.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

const MAX: usize = 4 << 20;

/// One end of the pair.
pub struct Channel {
    fd: OwnedFd,
}

impl Channel {
    /// A connected pair, both ends close-on-exec.
    pub fn pair() -> Result<(Channel, Channel)> {
        let mut fds = [0; 2];
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if r < 0 {
            return Err(Error::sys("socketpair"));
        }
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [&a, &b] {
            let size: libc::c_int = MAX as libc::c_int;
            // Root may exceed wmem_max; one spec (with a seccomp profile) is one datagram.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_SNDBUFFORCE,
                    &size as *const _ as *const libc::c_void,
                    4,
                );
            }
        }
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// Adopt an inherited descriptor.
    ///
    /// # Safety
    /// `fd` must be an open socket owned by nobody else.
    pub unsafe fn from_raw(fd: RawFd) -> Channel {
        Channel {
            fd: OwnedFd::from_raw_fd(fd),
        }
    }

    /// The descriptor.
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Give up the descriptor.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Send one message.
    pub fn send<T: Serialize>(&self, msg: &T) -> Result<()> {
        self.send_fd(msg, None)
    }

    /// Send one message with an optional descriptor attached (SCM_RIGHTS).
    pub fn send_fd<T: Serialize>(&self, msg: &T, fd: Option<RawFd>) -> Result<()> {
        let body = serde_json::to_vec(msg).map_err(|e| Error::Channel(e.to_string()))?;
        let mut buf = Vec::with_capacity(body.len() + 4);
        buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
        buf.extend_from_slice(&body);
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        };
        let mut cmsg = [0u64; 4];
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_iov = &mut iov;
        hdr.msg_iovlen = 1;
        if let Some(fd) = fd {
            unsafe {
                hdr.msg_control = cmsg.as_mut_ptr() as *mut libc::c_void;
                hdr.msg_controllen = libc::CMSG_SPACE(4) as usize;
                let c = libc::CMSG_FIRSTHDR(&hdr);
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_RIGHTS;
                (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
                std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut i32, fd);
            }
        }
        loop {
            let r = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &hdr, libc::MSG_NOSIGNAL) };
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(Error::Sys {
                    op: "sendmsg",
                    source: e,
                });
            }
        }
    }

    /// Receive one message; `None` at EOF.
    pub fn recv<T: DeserializeOwned>(&self) -> Result<Option<(T, Option<OwnedFd>)>> {
        // Capacity, not zeroed length: zeroing 4 MiB faulted in a thousand pages per
        // message, a millisecond or two of every exec; the kernel writes only `n` bytes.
        let mut buf: Vec<u8> = Vec::with_capacity(MAX);
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut libc::c_void,
            iov_len: MAX,
        };
        let mut cmsg = [0u64; 8];
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_iov = &mut iov;
        hdr.msg_iovlen = 1;
        hdr.msg_control = cmsg.as_mut_ptr() as *mut libc::c_void;
        hdr.msg_controllen = std::mem::size_of_val(&cmsg);
        let n = loop {
            let r = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut hdr, libc::MSG_CMSG_CLOEXEC) };
            if r >= 0 {
                break r as usize;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                // The peer exited with our last message unread. The kernel reports
                // that (once) before the messages the peer queued before dying, which
                // are still to be read (an init's last words: its error), then EOF.
                Some(libc::ECONNRESET) => continue,
                _ => {
                    return Err(Error::Sys {
                        op: "recvmsg",
                        source: e,
                    })
                }
            }
        };
        if n == 0 {
            return Ok(None);
        }
        // SAFETY: recvmsg wrote `n` <= MAX bytes from the start of the buffer.
        unsafe { buf.set_len(n.min(MAX)) };
        let mut fd = None;
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&hdr);
            if !c.is_null()
                && (*c).cmsg_level == libc::SOL_SOCKET
                && (*c).cmsg_type == libc::SCM_RIGHTS
            {
                fd = Some(OwnedFd::from_raw_fd(std::ptr::read_unaligned(
                    libc::CMSG_DATA(c) as *const i32,
                )));
            }
        }
        if n < 4 {
            return Err(Error::Channel(format!("short message of {n} bytes")));
        }
        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len + 4 != n || hdr.msg_flags & libc::MSG_TRUNC != 0 {
            return Err(Error::Channel(format!(
                "length prefix {len} but datagram of {n} bytes"
            )));
        }
        let msg = serde_json::from_slice(&buf[4..n]).map_err(|e| Error::Channel(e.to_string()))?;
        Ok(Some((msg, fd)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::message::FromInit;

    #[test]
    fn roundtrip_with_fd_and_eof() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&FromInit::Pid(42, [0, 0])).unwrap();
        let null = std::fs::File::open("/dev/null").unwrap();
        a.send_fd(&FromInit::Pty, Some(null.as_raw_fd())).unwrap();
        drop(a);
        let (m, fd) = b.recv::<FromInit>().unwrap().unwrap();
        assert!(matches!(m, FromInit::Pid(42, _)) && fd.is_none());
        let (m, fd) = b.recv::<FromInit>().unwrap().unwrap();
        assert!(matches!(m, FromInit::Pty) && fd.is_some());
        assert!(b.recv::<FromInit>().unwrap().is_none());
    }
}
