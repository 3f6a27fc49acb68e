//! The supervisor's guard: a process that holds nothing but a pidfd of its
//! supervisor. When the supervisor dies while its container ran (SIGKILL, OOM
//! killer), the container dies with it (`die_with_parent`), and the guard becomes
//! a new supervisor of the same container (`BERTH_ADOPT`), which records the exit
//! (137) and applies the restart policy, as dockerd does when a containerd shim
//! dies. A supervisor that ends normally (its container exited for good, or it
//! was removed) leaves the guard nothing to do.
//!
//! One per supervisor; forked before anything else happens in the supervisor,
//! while it is single-threaded and has touched little. The fork closes every
//! descriptor it inherited (the supervisor's lock among them), opens the pidfd,
//! lets go of the pages it does not need (`resident`) and waits. It is not a new
//! image: a second exec of the binary per container (its relocation and page
//! faults) cost more CPU at `up` than the guard's whole life, and what the fork
//! keeps is the supervisor's few pages of heap and data at that moment, shared
//! with it copy-on-write. Taking over is the exec: `/proc/self/exe`, the file that
//! runs even when an upgrade has replaced the one at its path.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;

use crate::container::{ContainerRecord, ContainerState, Status};

/// Set in the environment of a supervisor started by a guard.
pub const ADOPT_ENV: &str = "BERTH_ADOPT";

/// Forks the guard of this supervisor (of the container in `dir`). Returns in
/// the supervisor; the guard never returns from here: it exits, or becomes the
/// container's next supervisor by running this binary again with this process's
/// own command line.
pub fn spawn(dir: &Path) -> std::io::Result<()> {
    let parent = std::process::id();
    // SAFETY: the supervisor is single-threaded here (nothing has started a
    // thread yet), so the child may use the standard library (and allocate).
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
    // The pidfd is opened while the supervisor is still this process's parent, so
    // it names the supervisor and not a process that reused its pid.
    let pidfd = super::sys::pidfd_open(parent)
        .ok()
        // SAFETY: getppid takes no arguments.
        .filter(|_| unsafe { libc::getppid() } as u32 == parent);
    if let Some(pidfd) = pidfd {
        guard(dir, parent, pidfd);
    }
    // SAFETY: _exit skips the parent's atexit handlers and buffers, which are not ours.
    unsafe { libc::_exit(0) }
}

/// The guard's life: waits for the supervisor `parent` (`pidfd`) to exit, then
/// becomes a new supervisor of the container in `dir` when it must. Returns when
/// it need not (or the takeover could not start).
fn guard(dir: &Path, parent: u32, pidfd: OwnedFd) {
    // What the supervisor had touched to get here stays mapped for the
    // container's whole life otherwise.
    super::resident::shed_startup_pages();
    wait_for_exit(&pidfd);
    drop(pidfd);
    if must_adopt(dir, parent) {
        let mut argv = std::env::args_os();
        let arg0 = argv.next().unwrap_or_else(|| "berth-supervisor".into());
        // The binary this fork runs is the supervisor's.
        let err = std::process::Command::new("/proc/self/exe")
            .arg0(arg0)
            .args(argv)
            .env(ADOPT_ENV, "1")
            .exec();
        eprintln!("berth: the supervisor's guard could not take over: {err}");
    }
}

/// Blocks until the process of `pidfd` has exited.
fn wait_for_exit(pidfd: &OwnedFd) {
    let mut p = libc::pollfd {
        fd: pidfd.as_raw_fd(),
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
