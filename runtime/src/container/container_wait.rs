//! wait: the init's exit status, through its pidfd.

use std::os::fd::{AsRawFd, OwnedFd};

use super::{Container, ExitStatus};
use crate::error::{Error, Result};

/// waitid(P_PIDFD) until `pidfd` exits. `None` when we are not its parent (ECHILD): then
/// we can only wait for it to be gone.
pub(crate) fn wait_pidfd(pidfd: &OwnedFd) -> Result<Option<(Option<i32>, Option<i32>)>> {
    loop {
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED,
            )
        };
        if r == 0 {
            let status = unsafe { info.si_status() };
            return Ok(Some(match info.si_code {
                libc::CLD_EXITED => (Some(status), None),
                _ => (None, Some(status)),
            }));
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => {
                let mut p = libc::pollfd {
                    fd: pidfd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                while unsafe { libc::poll(&mut p, 1, -1) } != 1 {}
                return Ok(None);
            }
            _ => return Err(Error::sys("waitid")),
        }
    }
}

impl Container {
    /// Wait for the init to exit and return how it ended (code or signal, and whether the
    /// OOM killer struck in the container). Reaps it when we are its parent.
    pub fn wait(&self) -> Result<ExitStatus> {
        if let Some(s) = *self
            .exit
            .lock()
            .map_err(|_| Error::Channel("poisoned".into()))?
        {
            return Ok(s);
        }
        let (code, signal) = match &self.pidfd {
            Some(fd) => wait_pidfd(fd)?.unwrap_or((None, None)),
            None => (None, None),
        };
        let s = ExitStatus {
            code,
            signal,
            oom_killed: self.state.cgroups.oom_kills() > 0,
        };
        if let Ok(mut e) = self.exit.lock() {
            *e = Some(s);
        }
        Ok(s)
    }
}
