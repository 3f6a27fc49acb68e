//! The messages between the runtime (caller), its re-executed helper and the container init.

use std::path::PathBuf;

use oci_spec::runtime::{Process, Spec};
use serde::{Deserialize, Serialize};

use crate::rootfs::{CgroupMount, Rootfs};

/// Caller → helper: what to start.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToInit {
    /// Create a new container.
    Create(Box<CreateRequest>),
    /// Start an extra process in a running container.
    Exec(Box<ExecRequest>),
    /// Caller → init: the uid and gid maps of its new user namespace are written.
    Mapped,
    /// Caller → init: the init's pid is now in every v1 cgroup; the container's state
    /// document (for the hooks the init runs).
    Attached(String),
    /// Caller → init: the prestart and createRuntime hooks succeeded.
    Resume,
}

/// Everything the init needs to build the container.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateRequest {
    /// Container id.
    pub id: String,
    /// The OCI spec.
    pub spec: Spec,
    /// Root filesystem source.
    pub rootfs: Rootfs,
    /// Where to mount it (a host directory, seen only inside the new mount namespace).
    pub mountpoint: PathBuf,
    /// The fifo `start` opens; none for `run`, which starts at once.
    pub fifo: Option<PathBuf>,
    /// v1 (and v2 fallback) `cgroup.procs` files to join before cloning.
    pub cgroup_procs: Vec<PathBuf>,
    /// The cgroup2 directory to clone into.
    pub cgroup_v2: Option<PathBuf>,
    /// Hierarchies to show under a `cgroup` mount.
    pub cgroup_mounts: Vec<CgroupMount>,
    /// The caller moves the init into the v1 cgroups after the clone (see
    /// `Container::create`): clone without CLONE_NEWCGROUP, wait for `Attached`, then
    /// unshare the cgroup namespace.
    pub attach_by_caller: bool,
    /// v1 `tasks` files the init writes `0` to itself once `Attached` says they
    /// exist (instead of the caller writing its pid to `cgroup.procs`): a thread
    /// that moves itself skips the kernel's global threadgroup lock, whose first
    /// writer waits for an RCU grace period (milliseconds, tens on a busy host).
    /// Empty when the init cannot (a new user namespace: the files are the host
    /// root's; a joined mount namespace: the paths are the host's).
    #[serde(default)]
    pub cgroup_tasks: Vec<PathBuf>,
    /// Keep the runtime's init as pid 1 and fork the process.
    pub init: bool,
    /// `user[:group]` to resolve in the image's /etc/passwd and /etc/group.
    pub user: Option<String>,
    /// SIGKILL the container when its creator dies (`ContainerConfig::die_with_parent`).
    #[serde(default)]
    pub die_with_parent: bool,
}

/// What an exec needs.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The container's init pid.
    pub pid: i32,
    /// Its start time, to refuse a recycled pid.
    pub start_time: u64,
    /// `cgroup.procs` files to join.
    pub cgroup_procs: Vec<PathBuf>,
    /// The process.
    pub process: Process,
    /// `user[:group]` override.
    pub user: Option<String>,
    /// The container's seccomp profile, applied to the exec'd process too.
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
}

/// Helper/init → caller.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromInit {
    /// The container's init (or exec'd process) pid, as the host sees it, and the
    /// microseconds the helper spent joining cgroups and in clone3.
    Pid(i32, [u64; 2]),
    /// The pty master rides along with this message.
    Pty,
    /// The container is created and waits for `start`; microseconds the init spent
    /// building the root filesystem (mounts, devices, pivot_root, masks).
    Ready(u64),
    /// Init → caller: mounts are done and the root not yet entered: run the prestart
    /// and createRuntime hooks now, then send `Resume`.
    Hooks,
    /// Something failed; the process exits.
    Error(String),
}
