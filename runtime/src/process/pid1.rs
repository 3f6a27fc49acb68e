//! `init: true`: the runtime's own code stays pid 1. It forks the process, forwards
//! every signal it gets to it, reaps every zombie re-parented to it, and exits with the
//! process's status (128+signal when it was killed, as tini and docker-init do).

use std::convert::Infallible;

use super::channel::Channel;
use super::setup::{self, Prepared};
use crate::capabilities::{self, Sets};
use crate::error::{Error, Result};
use crate::tty;

/// Run as pid 1 until the process exits; never returns on success.
pub fn run(prepared: &Prepared, chan: &Channel, terminal: bool) -> Result<Infallible> {
    // pid 1 shows the container's limits and nice value too, not its caller's.
    setup::apply_limits(prepared)?;
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        // Blocked before fork: a SIGCHLD of a process that exits at once stays pending
        // and is read by sigwaitinfo below; nothing can be missed.
        libc::sigprocmask(libc::SIG_BLOCK, &all, &mut old);
    }
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(Error::sys("fork"));
    }
    if child == 0 {
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        unsafe { libc::setsid() };
        if terminal {
            tty::set_controlling()?;
        }
        return setup::finalize_and_exec(prepared);
    }
    // Our copy of the channel must go, or the caller never sees the EOF of the exec.
    unsafe { libc::close(chan.as_raw_fd()) };
    // pid 1 needs nothing but to signal its child; non-dumpable so no process in the
    // container can open /proc/1/exe, the runtime's binary (CVE-2019-5736).
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let kill_only = 1u64 << 5;
    let _ = capabilities::drop_bounding(kill_only);
    let _ = capabilities::set(&Sets {
        bounding: kill_only,
        effective: kill_only,
        permitted: kill_only,
        ..Sets::default()
    });
    loop {
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let sig = unsafe { libc::sigwaitinfo(&all, &mut info) };
        if sig < 0 {
            continue;
        }
        if sig == libc::SIGCHLD {
            loop {
                let mut status = 0;
                let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
                if pid <= 0 {
                    break;
                }
                if pid == child {
                    let code = if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else {
                        128 + libc::WTERMSIG(status)
                    };
                    unsafe { libc::_exit(code) };
                }
            }
        } else {
            unsafe { libc::kill(child, sig) };
        }
    }
}
