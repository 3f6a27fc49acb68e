//! start: release the init blocked on the exec fifo.

use std::os::fd::AsRawFd;

use super::state::{Status, FIFO};
use super::Container;
use crate::error::{Error, Result};
use crate::process::message::FromInit;
use crate::syscall::raw;

impl Container {
    /// Let the created container run its process. In the process that created it, this
    /// also reports a failed execve (missing binary, bad user, ...).
    pub fn start(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Created {
            return Err(Error::State {
                id: self.state.id.clone(),
                status: status.to_string(),
                op: "start",
            });
        }
        let path = self.state_dir.join(FIFO);
        // Non-blocking open for reading: the init's blocking open for writing then
        // completes. Poll the fifo together with the pidfd so an init that died never
        // leaves us waiting.
        let fifo = raw::open(&path, libc::O_RDONLY | libc::O_NONBLOCK, 0)?;
        let mut fds = vec![libc::pollfd {
            fd: fifo.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(p) = &self.pidfd {
            fds.push(libc::pollfd {
                fd: p.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        loop {
            let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if r < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(Error::sys("poll exec fifo"));
            }
            if fds[0].revents & libc::POLLIN != 0 {
                break;
            }
            if fds.len() > 1 && fds[1].revents != 0 {
                return Err(Error::Init("container init exited before start".into()));
            }
        }
        let mut b = [0u8; 1];
        unsafe { libc::read(fifo.as_raw_fd(), b.as_mut_ptr() as *mut libc::c_void, 1) };
        let _ = std::fs::remove_file(&path);
        if let Some(chan) = self.chan.lock().ok().and_then(|mut c| c.take()) {
            // EOF: the channel was close-on-exec and execve succeeded.
            match chan.recv::<FromInit>()? {
                None => {}
                Some((FromInit::Error(e), _)) => return Err(Error::Init(e)),
                Some((m, _)) => return Err(Error::Channel(format!("unexpected {m:?}"))),
            }
        }
        Ok(())
    }
}
