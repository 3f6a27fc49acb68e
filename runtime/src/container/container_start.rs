//! start: release the init blocked on the exec fifo.

use std::os::fd::AsRawFd;

use super::state::{state_doc, Status, FIFO};
use super::Container;
use crate::error::{Error, Result};
use crate::hooks;
use crate::syscall::raw;

impl Container {
    /// Let the created container run its process. Returns once the init is released
    /// (like runc, not after its execve: an exec failure shows as exit status 127 and a
    /// message on the container's stderr).
    pub fn start(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Created {
            return Err(Error::State {
                id: self.state.id.clone(),
                status: status.to_string(),
                op: "start",
            });
        }
        self.release()
    }

    /// Read the init's byte from the exec fifo (it has passed the point of waiting).
    pub(crate) fn release(&self) -> Result<()> {
        let path = self.state_dir.join(FIFO);
        // Non-blocking open for reading: the init's blocking open for writing then
        // completes. Poll the fifo together with the pidfd so an init that died never
        // leaves us waiting. (`run` opened it already.)
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
        // `0`, or `1` and why the startContainer hooks failed. The init writes it in
        // one write(2) before it goes on, so one read gets all of it.
        let mut b = [0u8; 4096];
        // SAFETY: reads into a buffer of the given size.
        let n = unsafe {
            libc::read(
                fifo.as_raw_fd(),
                b.as_mut_ptr() as *mut libc::c_void,
                b.len(),
            )
        };
        let _ = std::fs::remove_file(&path);
        if n > 0 && b[0] == b'1' {
            let msg = String::from_utf8_lossy(&b[1..n as usize]).into_owned();
            return Err(Error::Init(msg));
        }
        self.poststart();
        // Like runc, start returns once the init is released: it does not wait for the
        // execve (one scheduler round trip less). A failure from here on is written to
        // the container's stderr and the process exits 127, as with docker.
        Ok(())
    }

    /// The poststart hooks, once the init is released (their failures are warnings).
    pub(crate) fn poststart(&self) {
        if let Some(spec) = self.saved_spec_with_hooks("poststart") {
            if hooks::any(&spec, &[hooks::Kind::Poststart]) {
                let doc = state_doc(
                    Some(&spec),
                    &self.state.id,
                    self.state.bundle.as_deref(),
                    "running",
                    self.state.pid,
                );
                hooks::run_warn(&spec, hooks::Kind::Poststart, &doc);
            }
        }
    }
}
