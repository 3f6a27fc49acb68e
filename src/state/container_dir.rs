//! One container's directory: the one place that knows its entries' names.
//!
//! Every module that reads or writes a container's files asks this type for the
//! path (or the decoded file), so a file's name, its writer and its lifetime are
//! decided here and nowhere else.
//!
//! | entry | written by | when |
//! |---|---|---|
//! | `project` | engine create | first (the claim `repair` reads) |
//! | `net.json` | engine create | after the network is wired |
//! | `hosts`, `hostname`, `resolv.conf` | engine create | before the record |
//! | `launch.json` | engine create | before the record |
//! | `volumes.json`, `service.json` | engine create | before the record |
//! | `container.json` | engine create, rename | last: a container exists once it does |
//! | `status.json` | its supervisor (engine stop without one) | while it lives |
//! | `supervisor.lock`, `.sock`, `.log` | its supervisor | while it lives |
//! | `log` (+ rotated `log.N`) | its supervisor | container output |
//! | `runtime/`, `upper/`, `work/` | berth-runtime (through the supervisor) | while it runs |
//! | `cp-rootfs/` | `cp` into a stopped container | during a copy |

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{write_json_atomic, StateError};

/// The directory of one container (`<root>/containers/<id>`) and the names in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerDir {
    dir: PathBuf,
}

impl ContainerDir {
    /// The container whose directory is `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> ContainerDir {
        ContainerDir { dir: dir.into() }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The container id (the directory's name).
    pub fn id(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// `project`: which project claimed the directory, written before anything else.
    pub fn owner(&self) -> PathBuf {
        self.dir.join("project")
    }

    /// `container.json`: the container's record ([`crate::container::ContainerRecord`]).
    pub fn record(&self) -> PathBuf {
        self.dir.join("container.json")
    }

    /// `status.json`: what its supervisor observed ([`crate::container::Status`]).
    pub fn status(&self) -> PathBuf {
        self.dir.join("status.json")
    }

    /// `launch.json`: what its supervisor starts ([`crate::supervise::launch::LaunchConfig`]).
    pub fn launch(&self) -> PathBuf {
        self.dir.join("launch.json")
    }

    /// `service.json`: the service as it was when the container was made.
    pub fn service(&self) -> PathBuf {
        self.dir.join("service.json")
    }

    /// `volumes.json`: the named volumes it mounts.
    pub fn volumes(&self) -> PathBuf {
        self.dir.join("volumes.json")
    }

    /// `net.json`: its network attachments.
    pub fn net(&self) -> PathBuf {
        self.dir.join("net.json")
    }

    /// `supervisor.lock`: held by its one supervisor (and by `rm` taking it apart).
    pub fn supervisor_lock(&self) -> PathBuf {
        self.dir.join("supervisor.lock")
    }

    /// `supervisor.log`: the supervisor's own stdout and stderr.
    pub fn supervisor_log(&self) -> PathBuf {
        self.dir.join("supervisor.log")
    }

    /// `supervisor.sock`: the supervisor's control socket.
    pub fn supervisor_sock(&self) -> PathBuf {
        self.dir.join("supervisor.sock")
    }

    /// `log`: the container's output, one JSON object per line.
    pub fn log(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// `runtime/`: berth-runtime's state of the running container.
    pub fn runtime(&self) -> PathBuf {
        self.dir.join("runtime")
    }

    /// `upper/`: the overlay's writable layer.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// `work/`: the overlay's work directory.
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    /// `cp-rootfs/`: where `cp` mounts a stopped container's root.
    pub fn cp_rootfs(&self) -> PathBuf {
        self.dir.join("cp-rootfs")
    }

    /// `hosts`, bind-mounted at `/etc/hosts`.
    pub fn hosts(&self) -> PathBuf {
        self.dir.join("hosts")
    }

    /// `hostname`, bind-mounted at `/etc/hostname`.
    pub fn hostname(&self) -> PathBuf {
        self.dir.join("hostname")
    }

    /// `resolv.conf`, bind-mounted at `/etc/resolv.conf`.
    pub fn resolv_conf(&self) -> PathBuf {
        self.dir.join("resolv.conf")
    }

    /// Reads and decodes one of its JSON files; `None` when it is missing or
    /// unreadable (a container made before the file existed).
    pub fn read_json<T: DeserializeOwned>(&self, path: &Path) -> Option<T> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    /// Writes one of its JSON files atomically.
    pub fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), StateError> {
        write_json_atomic(path, value)
    }

    /// The named volumes it mounts (empty when `volumes.json` is missing).
    pub fn read_volumes(&self) -> Vec<String> {
        self.read_json(&self.volumes()).unwrap_or_default()
    }

    /// The service it was made from, as stored at create.
    pub fn read_service<T: DeserializeOwned>(&self) -> Option<T> {
        self.read_json(&self.service())
    }

    /// Whether its supervisor lock is held (a supervisor runs it).
    pub fn supervisor_running(&self) -> bool {
        // No lock file means no supervisor ever ran; creating one here is harmless.
        self.dir.exists() && matches!(super::try_lock(&self.supervisor_lock()), Ok(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_where_old_state_roots_have_them() {
        let d = ContainerDir::new("/r/containers/abc");
        assert_eq!(d.id(), "abc");
        assert_eq!(d.record(), Path::new("/r/containers/abc/container.json"));
        assert_eq!(d.status(), Path::new("/r/containers/abc/status.json"));
        assert_eq!(
            d.supervisor_lock(),
            Path::new("/r/containers/abc/supervisor.lock")
        );
    }

    #[test]
    fn json_round_trips_and_missing_reads_as_none() {
        let t = tempfile::tempdir().unwrap();
        let d = ContainerDir::new(t.path());
        assert!(d.read_volumes().is_empty());
        d.write_json(&d.volumes(), &vec!["v1".to_string()]).unwrap();
        assert_eq!(d.read_volumes(), vec!["v1".to_string()]);
        assert_eq!(d.read_service::<serde_json::Value>(), None);
    }
}
