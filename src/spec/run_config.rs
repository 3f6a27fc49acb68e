//! A container's settings in berth's own terms: what compose and the image decided,
//! resolved, and nothing of either format left.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// How a namespace is had: a new one, the host's, or another container's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum NamespaceMode {
    /// A namespace of its own.
    #[default]
    Private,
    /// The host's (`host`): no namespace of this kind is made.
    Host,
    /// Join the one at this path (`/proc/<pid>/ns/net`, a bind-mounted netns).
    Join(PathBuf),
}

/// One mount beyond the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountSpec {
    /// A host path (a bind mount, or a named volume's data directory).
    Bind {
        /// Host path.
        source: PathBuf,
        /// Path inside.
        target: String,
        /// Mounted read-only.
        read_only: bool,
        /// `rprivate`, `rshared`, `rslave`, …; `None` is rprivate.
        propagation: Option<String>,
    },
    /// A tmpfs.
    Tmpfs {
        /// Path inside.
        target: String,
        /// Size limit in bytes.
        size: Option<u64>,
        /// Mode of its root (octal number).
        mode: Option<u32>,
    },
    /// Directories of image layers stacked read-only (a `type: image` volume):
    /// an overlay with no upper directory.
    Layers {
        /// Layer directories, the top one first (two or more).
        lowers: Vec<PathBuf>,
        /// Path inside.
        target: String,
    },
}

/// Everything berth's runtime needs to know about one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunConfig {
    /// The command to exec: entrypoint then arguments, resolved against the image.
    pub args: Vec<String>,
    /// `KEY=value`, image first, then the service's.
    pub env: Vec<String>,
    /// Working directory inside.
    pub cwd: String,
    /// Resolved uid.
    pub uid: u32,
    /// Resolved gid.
    pub gid: u32,
    /// Supplementary groups (from /etc/group and `group_add`).
    pub additional_gids: Vec<u32>,
    /// `hostname`, or the short container id.
    pub hostname: String,
    /// `domainname`.
    pub domainname: Option<String>,
    /// A pty for the process (`tty: true`).
    pub terminal: bool,
    /// `cap_add`.
    pub cap_add: Vec<String>,
    /// `cap_drop`.
    pub cap_drop: Vec<String>,
    /// `privileged`.
    pub privileged: bool,
    /// `security_opt: [no-new-privileges]`.
    pub no_new_privileges: bool,
    /// `security_opt: [seccomp=unconfined]` (or privileged).
    pub seccomp_unconfined: bool,
    /// `read_only`.
    pub read_only: bool,
    /// `ulimits`: name (`nofile`) → (soft, hard).
    pub ulimits: IndexMap<String, (u64, u64)>,
    /// `sysctls`.
    pub sysctls: IndexMap<String, String>,
    /// `/dev/shm` size in bytes.
    pub shm_size: Option<u64>,
    /// Mounts beyond the defaults, in order.
    pub mounts: Vec<MountSpec>,
    /// Host devices to expose: (host path, container path, permissions `rwm`).
    pub devices: Vec<(String, String, String)>,
    /// `oom_score_adj`.
    pub oom_score_adj: Option<i32>,
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// Memory reservation in bytes.
    pub memory_reservation: Option<i64>,
    /// Memory + swap limit in bytes.
    pub memory_swap: Option<i64>,
    /// CPU quota per 100 ms period, in microseconds (`cpus: 0.5` → 50000).
    pub cpu_quota: Option<i64>,
    /// `cpu_shares`.
    pub cpu_shares: Option<u64>,
    /// `cpuset`.
    pub cpuset: Option<String>,
    /// `pids_limit`.
    pub pids_limit: Option<i64>,
    /// Network namespace.
    pub net: NamespaceMode,
    /// PID namespace.
    pub pid: NamespaceMode,
    /// IPC namespace.
    pub ipc: NamespaceMode,
    /// UTS namespace.
    pub uts: NamespaceMode,
    /// The cgroup path under berth's parent (`berth/<id>`).
    pub cgroup_path: String,
    /// A cgroup namespace of its own (`cgroup: private`); otherwise the host's, and
    /// the runtime binds the container's own cgroup directories at /sys/fs/cgroup.
    pub cgroup_ns: bool,
    /// Host files bound over /etc/hosts, /etc/hostname, /etc/resolv.conf.
    pub etc_files: Vec<(PathBuf, String)>,
}
