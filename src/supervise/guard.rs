//! The supervisor's guard: a process that holds nothing but a pidfd of its
//! supervisor. When the supervisor dies while its container ran (SIGKILL, OOM
//! killer), the container dies with it (`die_with_parent`), and the guard becomes
//! a new supervisor of the same container (`BERTH_ADOPT`), which records the exit
//! (137) and applies the restart policy, as dockerd does when a containerd shim
//! dies. A supervisor that ends normally (its container exited for good, or it
//! was removed) leaves the guard nothing to do.
//!
//! One per supervisor; forked before anything else happens in the supervisor,
//! while it is single-threaded. The fork closes every descriptor it inherited (the
//! supervisor's lock among them), opens the pidfd and executes the supervisor's
//! own binary again (`/proc/self/exe`, the file that runs even when an upgrade
//! has replaced the one at its path) in guard mode ([`GUARD_ENV`]): a fresh image
//! that touches only its wait, instead of a copy of the supervisor's heap and
//! stack kept for the container's whole life.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;

use crate::container::{ContainerRecord, ContainerState, Status};

/// Set in the environment of a supervisor started by a guard.
pub const ADOPT_ENV: &str = "BERTH_ADOPT";

/// Set in the environment of a guard: `PIDFD:PID`, the descriptor of the
/// supervisor it guards and that supervisor's pid.
pub const GUARD_ENV: &str = "BERTH_GUARD";

/// Forks the guard of this supervisor, which runs this binary again with `argv`
/// (this supervisor's own command line, program name first) in guard mode.
pub fn spawn(argv: Vec<OsString>) -> std::io::Result<()> {
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
    // The pidfd is opened while the supervisor is still this process's parent, so
    // it names the supervisor and not a process that reused its pid.
    let pidfd = super::sys::pidfd_open(parent)
        .ok()
        // SAFETY: getppid takes no arguments.
        .filter(|_| unsafe { libc::getppid() } as u32 == parent);
    if let Some(fd) = pidfd {
        let fd = fd_across_exec(fd);
        let mut argv = argv.into_iter();
        let arg0 = argv.next().unwrap_or_else(|| "berth-supervisor".into());
        let err = std::process::Command::new("/proc/self/exe")
            .arg0(arg0)
            .args(argv)
            .env(GUARD_ENV, format!("{fd}:{parent}"))
            .env_remove(ADOPT_ENV)
            .env_remove("BERTH_READY_FD")
            .exec();
        eprintln!("berth: the supervisor's guard could not start: {err}");
    }
    // SAFETY: _exit skips the parent's atexit handlers and buffers, which are not ours.
    unsafe { libc::_exit(0) }
}

/// `fd` with close-on-exec cleared, as a number for the guard's environment.
fn fd_across_exec(fd: OwnedFd) -> RawFd {
    let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
    // SAFETY: fcntl on the descriptor this process just opened.
    unsafe { libc::fcntl(raw, libc::F_SETFD, 0) };
    raw
}

/// In a process started as a guard (its environment has [`GUARD_ENV`]): waits for
/// the supervisor to exit, then becomes a new supervisor of the container in
/// `dir` when it must (the process's own command line is the supervisor's), and
/// otherwise exits. Returns only when this process is not a guard.
pub fn run_if_guard(dir: &Path) {
    let Some(value) = std::env::var_os(GUARD_ENV) else {
        return;
    };
    std::env::remove_var(GUARD_ENV);
    let parsed = value.to_str().and_then(|v| {
        let (fd, pid) = v.split_once(':')?;
        Some((fd.parse::<RawFd>().ok()?, pid.parse::<u32>().ok()?))
    });
    let Some((fd, parent)) = parsed else {
        eprintln!("berth: bad {GUARD_ENV} value");
        std::process::exit(2);
    };
    // SAFETY: the descriptor was opened for this process by the fork that
    // executed it (see `spawn`), and nothing else here owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fcntl on that descriptor: nothing this guard starts inherits it.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // What the guard touched to get here stays mapped for the container's whole
    // life otherwise.
    super::resident::shed_startup_pages();
    wait_for_exit(&pidfd);
    drop(pidfd);
    if must_adopt(dir, parent) {
        let mut argv = std::env::args_os();
        let arg0 = argv.next().unwrap_or_else(|| "berth-supervisor".into());
        // The binary this guard runs is the supervisor's (see `spawn`).
        let err = std::process::Command::new("/proc/self/exe")
            .arg0(arg0)
            .args(argv)
            .env(ADOPT_ENV, "1")
            .exec();
        eprintln!("berth: the supervisor's guard could not take over: {err}");
        std::process::exit(1);
    }
    std::process::exit(0);
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
