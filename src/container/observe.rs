//! How a container really is: its status as its supervisor last wrote it,
//! checked against the processes that should be behind it. `ps`, `plan`, `up`
//! and `down` all learn a container's state here (through `list::find`), so a
//! supervisor killed mid-run, or a `stop` a killed `down` left half-done, looks
//! the same to every command.

use std::path::Path;
use std::time::SystemTime;

use super::{ContainerState, Status};
use crate::state::ContainerDir;

/// The exit code of a container whose supervisor died: the container dies with
/// it (SIGKILL), and docker reports a container whose shim died as 137 too.
pub const SUPERVISOR_DIED: i32 = 128 + libc::SIGKILL;

/// One container as observed now.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The status, corrected for what the processes say.
    pub status: Status,
    /// A supervisor runs for it.
    pub supervised: bool,
    /// Its process still runs although no supervisor does (an older berth's
    /// container, or one that outlived its supervisor by a race): whoever
    /// starts it again must end this one first.
    pub orphan_pid: Option<u32>,
}

impl Observation {
    /// Running but told to stop: a `stop`/`down` is under way, or was killed
    /// while the container was still inside its grace period. It will exit.
    pub fn stopping(&self) -> bool {
        is_stopping(&self.status)
    }
}

/// Whether a status describes a container on its way out (see [`Observation::stopping`]).
pub fn is_stopping(st: &Status) -> bool {
    st.stopped_by_user && matches!(st.state, ContainerState::Running | ContainerState::Paused)
}

/// Observes the container in `dir` (`<root>/containers/<id>`).
pub fn observe(dir: &Path) -> Observation {
    observe_files(&ContainerDir::new(dir))
}

/// [`observe`] for a container whose files the caller already located: one
/// read of its status and one of its supervisor's command line.
pub fn observe_files(files: &ContainerDir) -> Observation {
    observe_with(files, supervisor_alive)
}

/// [`observe_files`] with the check that a supervisor runs (pid, container id)
/// given: the seam the tests use to end a supervisor between two reads.
fn observe_with(files: &ContainerDir, supervisor_alive: impl Fn(u32, &str) -> bool) -> Observation {
    let status_path = files.status();
    let mut status = Status::read(status_path.clone()).unwrap_or_default();
    let id = files
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let is_live = |st: &Status| {
        matches!(
            st.state,
            ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
        )
    };
    let is_supervised = |st: &Status| {
        st.supervisor_pid
            .is_some_and(|pid| supervisor_alive(pid, &id))
    };
    let mut supervised = is_supervised(&status);
    if is_live(&status) && !supervised {
        // A supervisor writes its last status, then exits: a status read before
        // that write and a look at the processes after the exit would make a
        // container that ended on its own one whose supervisor died (137). Now
        // that the supervisor is known gone, its last word is on disk.
        status = Status::read(status_path.clone()).unwrap_or_default();
        supervised = is_supervised(&status);
    }
    let live = is_live(&status);
    let mut orphan_pid = None;
    if live && !supervised {
        match status.pid.filter(|pid| in_container(*pid, &id)) {
            Some(pid) => {
                orphan_pid = Some(pid);
                status.state = ContainerState::Dead;
                status.error = Some("its supervisor died while it ran".into());
            }
            None => {
                status.state = ContainerState::Exited;
                status.pid = None;
                status.exit_code = Some(SUPERVISOR_DIED);
                // The supervisor's last write is the last moment it is known to
                // have run; never before the start (no "56 years ago").
                let last = std::fs::metadata(&status_path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs_f64());
                status.finished_at = match (last, status.started_at) {
                    (Some(l), Some(s)) => Some(l.max(s)),
                    (l, s) => l.or(s),
                };
                status.health = None;
            }
        }
    }
    Observation {
        status,
        supervised,
        orphan_pid,
    }
}

/// Reads a small file (a record, a status, a `/proc` file) whole: open, read,
/// close. `std::fs::read`, and `read_to_end` on a `File` however large its
/// buffer, also stat the file and seek for its size, read a `/proc` file (size
/// 0) in growing steps from 32 bytes, and read once more to see the end. Here a
/// read that does not fill the buffer is the end: a regular file gives all it
/// has up to the size asked, and so does a process's `cmdline` or `stat`, so
/// these files take one read. `up`, `ps` and `down` read three per container.
pub fn read_small(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path)?;
    // Into the vector's spare capacity: zeroing a page first would cost more
    // instructions than the rest of a small read.
    let mut bytes: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let spare = bytes.spare_capacity_mut();
        // SAFETY: the kernel writes at most `spare.len()` bytes into the spare
        // capacity, a valid writable region of that length owned by `bytes`.
        let n = unsafe { libc::read(file.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let n = n as usize;
        // SAFETY: the read initialized exactly the `n` bytes after the length.
        unsafe { bytes.set_len(bytes.len() + n) };
        if n == 0 || bytes.len() < bytes.capacity() {
            return Ok(bytes);
        }
        bytes.reserve(bytes.capacity());
    }
}

/// A process that is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The supervisor of container `id` runs as `pid`: alive, and the process with
/// that pid carries the id in its command line (not a recycled pid). One read:
/// a zombie's (or a dying process's) command line is empty, so finding the id
/// in it also says the process is not a zombie.
fn supervisor_alive(pid: u32, id: &str) -> bool {
    if id.is_empty() {
        return process_alive(pid);
    }
    read_small(Path::new(&format!("/proc/{pid}/cmdline")))
        .map(|c| c.split(|b| *b == 0).any(|arg| arg == id.as_bytes()))
        .unwrap_or(false)
}

/// `pid` is a live process inside container `id`'s cgroup (so not a recycled pid).
fn in_container(pid: u32, id: &str) -> bool {
    process_alive(pid)
        && !id.is_empty()
        && std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .is_ok_and(|c| c.lines().any(|l| l.ends_with(&format!("/{id}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(dir: &Path, st: Status) {
        st.save(dir).unwrap();
    }

    #[test]
    fn a_dead_supervisor_means_exited_137_never_at_the_epoch() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("c");
        save(
            &dir,
            Status {
                state: ContainerState::Running,
                supervisor_pid: Some(u32::MAX - 1),
                pid: Some(u32::MAX - 2),
                started_at: Some(1000.0),
                ..Status::default()
            },
        );
        let o = observe(&dir);
        assert_eq!(o.status.state, ContainerState::Exited);
        assert_eq!(o.status.exit_code, Some(SUPERVISOR_DIED));
        assert!(o.status.finished_at.unwrap() >= 1000.0);
        assert!(!o.supervised);
        assert_eq!(o.orphan_pid, None);
    }

    #[test]
    fn a_container_that_ended_as_its_supervisor_was_checked_keeps_its_exit_code() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("c");
        let running = Status {
            state: ContainerState::Running,
            supervisor_pid: Some(u32::MAX - 1),
            pid: Some(u32::MAX - 2),
            started_at: Some(1000.0),
            ..Status::default()
        };
        save(&dir, running.clone());
        // The status is read while it runs; before the processes are looked at,
        // the container ends on its own and its supervisor writes that and exits.
        let o = observe_with(&ContainerDir::new(&dir), |_, _| {
            save(
                &dir,
                Status {
                    state: ContainerState::Exited,
                    pid: None,
                    exit_code: Some(0),
                    finished_at: Some(1001.0),
                    ..running.clone()
                },
            );
            false
        });
        assert_eq!(o.status.state, ContainerState::Exited);
        assert_eq!(o.status.exit_code, Some(0), "not {SUPERVISOR_DIED}");
        assert!(!o.supervised);
    }

    #[test]
    fn a_supervisor_is_known_by_its_pid_and_the_id_in_its_command_line() {
        let root = tempfile::tempdir().unwrap();
        // This test process is alive but is no supervisor of container "c".
        let dir = root.path().join("c");
        save(
            &dir,
            Status {
                state: ContainerState::Running,
                supervisor_pid: Some(std::process::id()),
                ..Status::default()
            },
        );
        assert!(!observe(&dir).supervised);
    }

    #[test]
    fn a_small_read_gives_the_whole_file_whatever_its_size() {
        let root = tempfile::tempdir().unwrap();
        for size in [0, 1, 4095, 4096, 4097, 8192, 20_000] {
            let p = root.path().join(format!("f{size}"));
            let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            std::fs::write(&p, &content).unwrap();
            assert_eq!(read_small(&p).unwrap(), content, "size {size}");
        }
        let cmdline = read_small(Path::new("/proc/self/cmdline")).unwrap();
        assert_eq!(cmdline, std::fs::read("/proc/self/cmdline").unwrap());
        assert!(read_small(&root.path().join("missing")).is_err());
    }

    #[test]
    fn running_after_a_stop_request_is_stopping() {
        let st = Status {
            state: ContainerState::Running,
            stopped_by_user: true,
            ..Status::default()
        };
        assert!(is_stopping(&st));
        assert!(!is_stopping(&Status {
            stopped_by_user: false,
            ..st.clone()
        }));
        assert!(!is_stopping(&Status {
            state: ContainerState::Exited,
            ..st
        }));
    }
}
