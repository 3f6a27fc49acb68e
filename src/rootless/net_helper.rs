//! The helper that joins the user's network namespace to the host: pasta
//! (Debian's passt) when it is installed, else slirp4netns, as podman chooses
//! (`default_rootless_network_cmd`). `BERTH_ROOTLESS_NETWORK_CMD=pasta` or
//! `=slirp4netns` picks one (both installed, or to compare them).
//!
//! One helper per user namespace holder, started and stopped from the host's
//! namespaces (see `forward`); this module chooses it, serializes its restarts
//! among concurrent commands and stops whichever one runs.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::pasta::{self, Forward};
use super::slirp;

/// The environment variable that picks the helper.
pub const ENV: &str = "BERTH_ROOTLESS_NETWORK_CMD";

/// A network helper berth drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// pasta: the namespace gets the host's address and routes; ports spliced.
    Pasta,
    /// slirp4netns: the namespace gets 10.0.2.100 behind a user-mode NAT; ports
    /// added and removed through its API socket.
    Slirp4netns,
}

impl Kind {
    /// Both, in order of preference.
    pub const ALL: [Kind; 2] = [Kind::Pasta, Kind::Slirp4netns];

    /// Its executable's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pasta => "pasta",
            Kind::Slirp4netns => "slirp4netns",
        }
    }

    /// Its executable, when installed (searched on PATH, then where Debian
    /// installs it).
    pub fn binary(self) -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
            .map(|d| d.join(self.name()))
            .find(|p| p.is_file())
    }

    /// Where the pid of the running one is recorded.
    pub fn pid_file(self, run: &Path) -> PathBuf {
        super::holder::dir(run).join(format!("{}.pid", self.name()))
    }
}

/// The helper to use: the one `BERTH_ROOTLESS_NETWORK_CMD` names, else pasta,
/// else slirp4netns; or the error that says what to install.
pub fn choose() -> Result<(Kind, PathBuf), String> {
    if let Some(want) = std::env::var_os(ENV).filter(|v| !v.is_empty()) {
        let want = want.to_string_lossy();
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.name() == want)
            .ok_or_else(|| format!("{ENV}={want}: pasta or slirp4netns"))?;
        let bin = kind.binary().ok_or_else(|| {
            format!(
                "{ENV}={want}, which is not installed (`apt-get install {}`)",
                package(kind)
            )
        })?;
        return Ok((kind, bin));
    }
    Kind::ALL
        .into_iter()
        .find_map(|k| k.binary().map(|b| (k, b)))
        .ok_or_else(|| "neither pasta nor slirp4netns is installed: published ports and the way out of the user's network namespace need one (`apt-get install passt`, or `apt-get install slirp4netns`; see `berth doctor`)".into())
}

fn package(kind: Kind) -> &'static str {
    match kind {
        Kind::Pasta => "passt",
        Kind::Slirp4netns => "slirp4netns",
    }
}

/// The running helper of `kind` for `run`, if any: its pid and a pidfd (so that
/// the pid signalled is the process checked).
pub fn running(run: &Path, kind: Kind) -> Option<(i32, OwnedFd)> {
    let (pid, pidfd, cmd) = super::holder::recorded_process(&kind.pid_file(run))?;
    let exe = cmd.split(|b| *b == 0).next().unwrap_or_default();
    exe.ends_with(kind.name().as_bytes())
        .then_some((pid, pidfd))
}

/// An exclusive flock serializing the helpers' starts and stops.
fn lock(run: &Path) -> Option<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(super::holder::dir(run).join("net.lock"))
        .ok()?;
    // SAFETY: flock on a descriptor we own, released when the file is dropped.
    (unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } == 0).then_some(f)
}

/// Kills the helper of `kind` for `run`, if any, and waits until it is gone
/// (its tap interface goes with it, so that a new one can take the name).
pub(super) fn kill(run: &Path, kind: Kind) {
    if let Some((_, pidfd)) = running(run, kind) {
        // SAFETY: pidfd_send_signal on our pidfd; no memory is passed.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own; a pidfd turns readable when the process exits.
        unsafe { libc::poll(&mut pfd, 1, 5000) };
    }
    let _ = fs::remove_file(kind.pid_file(run));
    match kind {
        Kind::Pasta => pasta::forget(run),
        Kind::Slirp4netns => slirp::forget(run),
    }
}

/// Stops whichever helper runs for `run`.
pub fn stop(run: &Path) {
    let _lock = lock(run);
    for k in Kind::ALL {
        kill(run, k);
    }
}

/// Makes the helper of `run` join the namespace of the holder `holder_pid` to
/// the host and carry exactly `ports` into it (started when none runs; a
/// helper other than the chosen one is stopped first). Runs in the host's
/// namespaces.
pub fn reconcile(run: &Path, holder_pid: i32, ports: &[Forward]) -> Result<(), String> {
    let mut ports = ports.to_vec();
    ports.sort();
    ports.dedup();
    let _lock = lock(run);
    let (kind, bin) = choose()?;
    for other in Kind::ALL.into_iter().filter(|k| *k != kind) {
        kill(run, other);
    }
    match kind {
        Kind::Pasta => pasta::reconcile(run, &bin, holder_pid, &ports),
        Kind::Slirp4netns => slirp::reconcile(run, &bin, holder_pid, &ports),
    }
}
