//! The `Container` type, one file per lifecycle verb.

mod container_create;
mod container_delete;
mod container_exec;
mod container_kill;
mod container_pause;
mod container_start;
mod container_wait;
mod state;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

pub use container_exec::{ExecConfig, ExecProcess};
pub use container_kill::parse_signal;
pub use state::{State, Status};

use crate::cgroups::{Cgroups, Stats};
use crate::process::spawn::Stdio;
use crate::rootfs::Rootfs;

/// What `Container::create` needs.
#[derive(Debug)]
pub struct ContainerConfig {
    /// Unique id (also the cgroup name under `berth/`).
    pub id: String,
    /// This container's own state directory (e.g. `<root>/containers/<id>`); the runtime
    /// writes `state.json` (with the spec) and `exec.fifo` in it, and mounts the root
    /// over it in the container's new mount namespace (else on a `rootfs` dir in it).
    pub state_dir: PathBuf,
    /// The OCI runtime spec; `root.path` is ignored in favour of `rootfs`.
    pub spec: Spec,
    /// The root filesystem.
    pub rootfs: Rootfs,
    /// Standard I/O of the container's process (ignored when `process.terminal`).
    pub stdio: Stdio,
    /// Keep the runtime's init as pid 1 (reaps zombies, forwards signals).
    pub init: bool,
    /// `user[:group]` resolved from the image's /etc/passwd and /etc/group, overriding
    /// `process.user` uid/gid.
    pub user: Option<String>,
    /// Bundle directory, only recorded in the state (OCI `state` output).
    pub bundle: Option<PathBuf>,
    /// The container's processes get SIGKILL when the process that created it
    /// dies (`PR_SET_PDEATHSIG`): a supervisor that owns the container's stdio
    /// and exit sets this, so that killing it never leaves a container nobody
    /// reaps or sees. A runc-like caller that exits after `create` must not.
    pub die_with_parent: bool,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// Exit code, when it exited.
    pub code: Option<i32>,
    /// Signal number, when a signal killed it.
    pub signal: Option<i32>,
    /// The kernel's OOM killer killed a process of the container.
    pub oom_killed: bool,
}

impl ExitStatus {
    /// The shell convention: the code, or 128 + signal.
    pub fn as_shell_code(&self) -> i32 {
        self.code.unwrap_or_else(|| 128 + self.signal.unwrap_or(0))
    }
}

/// A created container.
#[derive(Debug)]
pub struct Container {
    state: State,
    state_dir: PathBuf,
    pidfd: Option<OwnedFd>,
    pty: Mutex<Option<OwnedFd>>,
    exit: Mutex<Option<ExitStatus>>,
    timings: CreateTimings,
    /// `Some(false)` when this process created the container from a spec without
    /// poststart and poststop hooks: start and delete need not read the saved spec
    /// back to find none. `None` for a loaded container.
    after_start_hooks: Option<bool>,
}

/// Where `create` spent its time, in microseconds (zero for a loaded container).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTimings {
    /// Creating the cgroup directories and writing limits.
    pub cgroups_us: u64,
    /// Spawning the helper (fork+exec of the runtime binary) until it cloned the init.
    pub helper_us: u64,
    /// Moving the helper into the v1 cgroups (cgroup.procs writes, overlapping its exec).
    pub cgroup_join_us: u64,
    /// Inside the helper: clone3 with the namespace flags.
    pub clone_us: u64,
    /// From the clone until the init was ready (includes `mounts_us`).
    pub init_us: u64,
    /// Inside the init: root filesystem, mounts, devices, pivot_root, masked paths.
    pub mounts_us: u64,
}

/// Detach whatever is mounted at a container's rootfs mount point in the runtime's
/// mount namespace: only a container without a mount namespace of its own leaves its
/// rootfs (and the mounts under it) there; elsewhere this finds nothing (EINVAL).
pub(crate) fn detach_rootfs(mountpoint: &Path) {
    if let Ok(c) = crate::syscall::raw::cstr(mountpoint) {
        // SAFETY: a valid NUL-terminated path.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

impl Container {
    /// Container id.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Host pid of the container's init.
    pub fn pid(&self) -> i32 {
        self.state.pid
    }

    /// The persisted state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The container's cgroups.
    pub fn cgroups(&self) -> &Cgroups {
        &self.state.cgroups
    }

    /// Take the pty master (when `process.terminal` was set); resize it with `tty::resize`.
    pub fn take_pty(&self) -> Option<OwnedFd> {
        self.pty.lock().ok()?.take()
    }

    /// Where `create` spent its time.
    pub fn timings(&self) -> CreateTimings {
        self.timings
    }

    /// Resource usage.
    pub fn stats(&self) -> crate::Result<Stats> {
        Ok(self.state.cgroups.stats())
    }
}
