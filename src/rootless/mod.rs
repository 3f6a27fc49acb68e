//! Rootless berth: a normal user runs the same commands without root.
//!
//! berth keeps one long-lived namespace holder per user and run directory (a
//! re-executed `berth`, like podman's pause process or RootlessKit): a user
//! namespace mapped from the user's subordinate ids by Debian's setuid
//! `newuidmap`/`newgidmap` (no setuid code of ours), with its own mount and
//! network namespaces. Every state-touching command joins it first thing, while
//! still single-threaded, and then runs as root of that namespace: overlay with
//! `userxattr`, berth's own bridges and nftables inside the user's network
//! namespace. When nothing is left that needs the namespace (no container, no
//! network), the command that noticed stops the holder, so `down` leaves nothing.

pub mod cgroups;
pub mod doctor;
pub mod forward;
pub mod fuse_overlay;
pub mod holder;
pub mod keep_id;
pub mod net_helper;
pub mod pasta;
pub mod paths;
pub mod project;
pub mod slirp;
pub mod subid;

use std::path::PathBuf;

/// What can go wrong setting up rootless mode.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{op}: {source}")]
    Sys {
        /// What was attempted.
        op: String,
        /// Why.
        source: std::io::Error,
    },
    /// The user has no subordinate ids.
    #[error(
        "no subordinate ids for user {user} in {file}: as root, run `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}` (see `berth doctor`)"
    )]
    NoSubids {
        /// The user name.
        user: String,
        /// /etc/subuid or /etc/subgid.
        file: PathBuf,
    },
    /// newuidmap or newgidmap is missing or failed.
    #[error("{tool}: {msg} (install Debian's uidmap package: `apt-get install uidmap`; see `berth doctor`)")]
    IdMap {
        /// newuidmap or newgidmap.
        tool: String,
        /// What it said.
        msg: String,
    },
    /// The holder did not come up.
    #[error("the rootless namespace holder did not start: {0}")]
    Holder(String),
}

/// Whether berth runs rootless: as a user other than root, or already inside a
/// user namespace that is not the host's (the holder's, where the user is uid 0).
pub fn is_rootless() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return true;
    }
    in_user_namespace()
}

/// Whether this process is in a user namespace other than the initial one (whose
/// uid_map is the identity over all ids).
pub fn in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(m) => {
            let f: Vec<&str> = m.split_whitespace().collect();
            f != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

/// The user's login name, for the subid files and messages.
pub fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 3 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

/// A command that joined the user namespace, holding its share of the holder.
#[derive(Debug)]
pub struct Joined {
    /// A shared flock on `<run>/rootless/users` for as long as the command runs:
    /// the holder is stopped only by a command that gets it exclusively.
    users: std::fs::File,
}

/// The way out of the namespace for this command: the process left in the
/// host's namespaces that (re)starts the network helper, and whether the
/// helper is still to be started (see [`need_way_out`]).
struct WayOut {
    agent: forward::Agent,
    layout: crate::state::Layout,
    pending: bool,
}

static WAY_OUT: std::sync::Mutex<Option<WayOut>> = std::sync::Mutex::new(None);

fn way_out() -> std::sync::MutexGuard<'static, Option<WayOut>> {
    WAY_OUT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the network helper if this command deferred it (see [`enter`]),
/// carrying the ports the state publishes and `ahead` (the ports the command
/// is about to publish: the helper then need not restart when it ends).
/// Called before anything needs the way out of the namespace: a pull, a
/// container. A no-op when the helper runs already or berth is not rootless.
pub fn need_way_out(ahead: &[pasta::Forward]) {
    let mut g = way_out();
    let Some(w) = g.as_mut().filter(|w| w.pending) else {
        return;
    };
    w.pending = false;
    let mut ports = forward::published(&w.layout);
    ports.extend_from_slice(ahead);
    if let Err(e) = w.agent.ports(ports) {
        // A port that cannot be bound is reported when the command ends (as
        // without this head start); the way out must not wait for it.
        tracing::debug!("network helper: {e}");
        if let Err(e) = w.agent.ports(forward::published(&w.layout)) {
            tracing::debug!("network helper: {e}");
        }
    }
}

/// The host's `net.ipv4.ip_unprivileged_port_start`, read before joining (the
/// user's network namespace has its own copy, which binds nothing on the host).
static HOST_PORT_START: std::sync::OnceLock<u16> = std::sync::OnceLock::new();

fn read_port_start() -> Option<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The lowest host port the user may bind: the host's
/// `net.ipv4.ip_unprivileged_port_start` (1024 when it cannot be read).
pub fn host_port_start() -> u16 {
    *HOST_PORT_START.get_or_init(|| read_port_start().unwrap_or(1024))
}

/// Joins berth's user namespace when berth runs rootless and is not in it yet
/// (a supervisor or DNS responder started from inside already is). Must be
/// called while the process is single-threaded.
///
/// When this command starts the holder (nothing runs in it yet) and `defer` says
/// the command calls [`need_way_out`] before it needs the way out, the network
/// helper starts there, with the ports the command is about to publish, instead
/// of once now and again with the new ports at the end (pasta's ports are fixed
/// when it starts; each start costs tens of milliseconds).
pub fn enter(layout: &crate::state::Layout, defer: bool) -> Result<Option<Joined>, RootlessError> {
    if !is_rootless() || in_user_namespace() {
        return Ok(None);
    }
    let users = users_lock(&layout.run)?;
    flock(&users, libc::LOCK_SH)?;
    let (h, fresh) = holder::ensure(&layout.run)?;
    host_port_start();
    let mut agent = forward::spawn(&layout.run, h.pid)?;
    let pending = fresh && defer;
    if !pending {
        // The way out of the namespace (and the ports the state publishes, should a
        // command have died before carrying them): a failure matters only to ports,
        // which `release` reports.
        if let Err(e) = agent.ports(forward::published(layout)) {
            tracing::debug!("network helper: {e}");
        }
    }
    h.join()?;
    *way_out() = Some(WayOut {
        agent,
        layout: layout.clone(),
        pending,
    });
    Ok(Some(Joined { users }))
}

fn users_lock(run: &std::path::Path) -> Result<std::fs::File, RootlessError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let d = holder::dir(run);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&d)
        .map_err(|source| RootlessError::Io {
            path: d.clone(),
            source,
        })?;
    let p = d.join("users");
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&p)
        .map_err(|source| RootlessError::Io { path: p, source })
}

fn flock(f: &std::fs::File, op: libc::c_int) -> Result<bool, RootlessError> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; no memory involved.
    if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == std::io::ErrorKind::WouldBlock {
        return Ok(false);
    }
    Err(RootlessError::Sys {
        op: "locking the rootless namespace".into(),
        source: e,
    })
}

impl Joined {
    /// At the end of the command: when no other berth command is in the
    /// namespace and nothing is left that needs it (no container, no network),
    /// stops the network helper and the holder, so that `down` leaves nothing running;
    /// otherwise has the helper carry the ports the state now publishes. Fails when
    /// those ports cannot be bound on the host.
    pub fn release(self, layout: &crate::state::Layout) -> Result<(), String> {
        let Some(mut w) = way_out().take() else {
            return Ok(());
        };
        let last = matches!(flock(&self.users, libc::LOCK_EX | libc::LOCK_NB), Ok(true));
        if last && idle(layout) {
            // The containers' parent in a delegated cgroup subtree: empty now.
            if let Some(h) = cgroups::delegated() {
                let parent = h
                    .mount
                    .join(berth_runtime::cgroups::detect::DELEGATED_PARENT);
                let _ = std::fs::remove_dir(parent);
            }
            // What a killed supervisor's container left mounted.
            fuse_overlay::unmount_all_under(&layout.root);
            w.agent.stop();
            if let Some(h) = holder::Holder::find(&layout.run) {
                h.stop(&layout.run);
            }
            return Ok(());
        }
        let ports = forward::published(layout);
        let none = ports.is_empty();
        match w.agent.ports(ports) {
            Err(e) if !none => Err(format!("published ports: {e}")),
            _ => Ok(()),
        }
    }
}

/// Whether the state holds nothing that lives in the namespace.
pub fn idle(layout: &crate::state::Layout) -> bool {
    let empty = |d: std::path::PathBuf| match std::fs::read_dir(&d) {
        Ok(mut it) => it.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    };
    empty(layout.containers()) && empty(layout.networks())
}

/// The highest gid this process's user namespace maps (2147483647, docker's
/// ping_group_range bound, in the host's namespace).
pub fn max_mapped_gid() -> u64 {
    const HOST: u64 = 2147483647;
    if !in_user_namespace() {
        return HOST;
    }
    std::fs::read_to_string("/proc/self/gid_map")
        .ok()
        .and_then(|m| {
            m.lines()
                .filter_map(|l| {
                    let f: Vec<u64> = l
                        .split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect();
                    (f.len() == 3 && f[2] > 0).then(|| f[0] + f[2] - 1)
                })
                .max()
        })
        .map_or(HOST, |m| m.min(HOST))
}
