//! The seam between the supervisor and what runs its container: berth's runtime
//! in production ([`super::runtime_launcher::RuntimeLauncher`]), a plain host
//! process in the supervisor's own tests.

use std::io;
use std::os::fd::OwnedFd;

/// How a run of the container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code, or 128 + signal.
    pub code: i32,
    /// The kernel's OOM killer ended it.
    pub oom_killed: bool,
}

/// A started process: its host pid and a pidfd that becomes readable when it exits.
#[derive(Debug)]
pub struct Launched {
    /// The pid on the host.
    pub pid: u32,
    /// `pidfd_open` of it.
    pub pidfd: OwnedFd,
    /// With `tty: true`, the pty master: all output comes from it, not the pipes.
    pub tty: Option<OwnedFd>,
}

/// What actually starts and signals the container's process.
pub trait Launcher {
    /// Starts the process with its stdin (None: /dev/null), stdout and stderr on the
    /// given descriptors (a terminal replaces all three).
    fn launch(
        &mut self,
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    ) -> io::Result<Launched>;
    /// Sends `signal` to the process (with `all`, to every process of the container).
    fn signal(&mut self, signal: i32, all: bool) -> io::Result<()>;
    /// Collects the exit of a process whose pidfd became readable.
    fn reap(&mut self, launched: &Launched) -> io::Result<ExitInfo>;
    /// Releases what one run held (the runtime's container state), before a restart
    /// or the end.
    fn cleanup(&mut self) -> io::Result<()>;
    /// Freezes (or thaws) every process of the container.
    fn freeze(&mut self, frozen: bool) -> io::Result<()> {
        let _ = frozen;
        Err(io::Error::other("this launcher cannot pause"))
    }
    /// Starts a healthcheck probe inside the running container, its output on `output`.
    fn start_probe(&mut self, command: &[String], output: OwnedFd) -> io::Result<Launched> {
        let _ = (command, output);
        Err(io::Error::other("this launcher cannot run healthchecks"))
    }
    /// Reaps a probe that exited (or was killed); returns its exit code.
    fn reap_probe(&mut self, probe: &Launched) -> io::Result<i32> {
        let _ = probe;
        Ok(-1)
    }
}
