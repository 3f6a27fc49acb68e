//! kill: one signal to the init, or to every process of the container.

use super::state::Status;
use super::Container;
use crate::error::{Error, Result};
use crate::syscall::raw;

impl Container {
    /// Send `sig` to the init (through its pidfd), or with `all` to every process in the
    /// container's cgroup.
    pub fn kill(&self, sig: i32, all: bool) -> Result<()> {
        // Without cgroups (rootless), the init stands for them: it is pid 1 of the
        // container's pid namespace, and when it dies the kernel kills the rest.
        if all && !self.state.cgroups.dirs.is_empty() {
            return self.state.cgroups.kill_all(sig);
        }
        match &self.pidfd {
            Some(fd) if !self.exited() => raw::pidfd_send_signal(fd, sig).map_err(|e| Error::Sys {
                op: "pidfd_send_signal",
                source: e,
            }),
            _ => Err(Error::State {
                id: self.state.id.clone(),
                status: Status::Stopped.to_string(),
                op: "kill",
            }),
        }
    }
}

/// Signal number from a name (`TERM`, `SIGTERM`) or a number.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let n = s.strip_prefix("SIG").unwrap_or(s).to_ascii_uppercase();
    Some(match n.as_str() {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "STOP" => libc::SIGSTOP,
        "CONT" => libc::SIGCONT,
        "WINCH" => libc::SIGWINCH,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "CHLD" => libc::SIGCHLD,
        _ => return None,
    })
}
