//! The supervisor's guard: a forked copy of the supervisor that holds nothing
//! but a pidfd of it. When the supervisor dies while its container ran (SIGKILL,
//! OOM killer), the container dies with it (`die_with_parent`), and the guard
//! becomes a new supervisor of the same container (`BERTH_ADOPT`), which records
//! the exit (137) and applies the restart policy, as dockerd does when a
//! containerd shim dies. A supervisor that ends normally (its container exited
//! for good, or it was removed) leaves the guard nothing to do.
//!
//! One per supervisor; forked before anything else happens in the supervisor,
//! while it is single-threaded, and it closes every descriptor it inherited (the
//! supervisor's lock among them) at once.

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;

use crate::container::{ContainerRecord, ContainerState, Status};

/// Set in the environment of a supervisor started by a guard.
pub const ADOPT_ENV: &str = "BERTH_ADOPT";

/// Forks the guard of this supervisor (`dir`: its container's directory). The
/// guard runs `argv` (this supervisor's own command line, program name first)
/// when it must take over.
pub fn spawn(dir: &Path, argv: Vec<OsString>) -> std::io::Result<()> {
    let parent = std::process::id();
    // SAFETY: the supervisor is single-threaded here (nothing has started a
    // thread yet), so the child may use the standard library until it execs.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok(());
    }
    // The guard. Nothing inherited may stay open: the supervisor's lock would
    // outlive it, the ready pipe would keep the CLI waiting.
    // SAFETY: close_range with integer arguments.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    // Out of the supervisor's process group: a kill of that group does not take
    // the guard too.
    // SAFETY: setsid takes no arguments.
    unsafe { libc::setsid() };
    wait_for_exit(parent);
    if must_adopt(dir, parent) {
        // The binary this supervisor runs, even when an upgrade has replaced the
        // file at its path since (the path would then name another program, or
        // none): the kernel keeps the running one reachable here.
        let mut argv = argv.into_iter();
        let arg0 = argv.next().unwrap_or_else(|| "berth-supervisor".into());
        let err = std::process::Command::new("/proc/self/exe")
            .arg0(arg0)
            .args(argv)
            .env(ADOPT_ENV, "1")
            .env_remove("BERTH_READY_FD")
            .exec();
        eprintln!("berth: the supervisor's guard could not take over: {err}");
    }
    // SAFETY: _exit skips the parent's atexit handlers and buffers, which are not ours.
    unsafe { libc::_exit(0) }
}

/// Blocks until process `pid` has exited.
fn wait_for_exit(pid: u32) {
    let Ok(fd) = super::sys::pidfd_open(pid) else {
        // Already gone.
        return;
    };
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, -1) };
        if n > 0 {
            return;
        }
    }
}

/// The supervisor `pid` died while its container ran: its last status still
/// names it as the supervisor of a live container that still exists.
fn must_adopt(dir: &Path, pid: u32) -> bool {
    if !ContainerRecord::path(dir).exists() {
        return false;
    }
    let st = Status::load(dir).unwrap_or_default();
    st.supervisor_pid == Some(pid)
        && matches!(
            st.state,
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_live_container_of_the_dead_supervisor_is_adopted() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("c");
        std::fs::create_dir_all(&dir).unwrap();
        let running = Status {
            state: ContainerState::Running,
            supervisor_pid: Some(42),
            ..Status::default()
        };
        running.save(&dir).unwrap();
        // No record: the container was removed.
        assert!(!must_adopt(&dir, 42));
        std::fs::write(ContainerRecord::path(&dir), "{}").unwrap();
        assert!(must_adopt(&dir, 42));
        // Another supervisor's container, or one that ended normally.
        assert!(!must_adopt(&dir, 43));
        Status {
            state: ContainerState::Exited,
            ..running
        }
        .save(&dir)
        .unwrap();
        assert!(!must_adopt(&dir, 42));
    }
}
