//! One container's directory: the one place that knows its entries' names.
//!
//! Every module that reads or writes a container's files asks this type for the
//! path (or the decoded file), so a file's name, its writer and its lifetime are
//! decided here and nowhere else.
//!
//! A container has two directories: `<root>/containers/<id>` holds what must
//! survive a reboot, written once at create; `<run>/containers/<id>` (tmpfs by
//! default) holds what only lives while it runs, so that the many small writes
//! of a start (status, lock, socket, runtime state) allocate no inodes on the
//! state filesystem and a reboot leaves no stale run state behind.
//!
//! | entry | side | written by | when |
//! |---|---|---|---|
//! | `project` | root | engine create | first (the claim `repair` reads) |
//! | `net.json` | root | engine create | after the network is wired (what `discard` undoes) |
//! | `hosts`, `hostname`, `resolv.conf` | root | engine create | before the record |
//! | `launch.json` | root | engine create | before the record (the supervisor's input) |
//! | `container.json` | root | engine create, rename | last: a container exists once it does; also holds the service as made and its named volumes |
//! | `log` (+ rotated `log.N`) | root | its supervisor | container output |
//! | `upper/`, `work/` | root | berth-runtime (through the supervisor) | first start |
//! | `cp-rootfs/` | root | `cp` into a stopped container | during a copy |
//! | `status.json` | run | its supervisor (engine stop without one) | while it lives |
//! | `supervisor.lock`, `.sock`, `.log` | run | its supervisor | while it lives |
//! | `runtime/` | run | berth-runtime (through the supervisor) | while it runs |
//!
//! Durability: a berth killed at any moment leaves nothing the next command
//! cannot finish or undo. Against a power loss only the record's contents are
//! synced (before its rename, which is not), and the launch config and `/etc`
//! files of a container that is not on a berth network (one that is, is made
//! anew after a reboot: its namespace is gone). `<root>/containers` and
//! `<run>/containers` carry ext4's top-directory flag ([`super::topdir`]).
//!
//! Older state roots kept everything in the root side, plus `service.json` and
//! `volumes.json`. Such a container is read where its files are (its run side
//! is its root side) until [`ContainerDir::migrate`] moves it, the first time a
//! command holding its project's lock finds no supervisor running it.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{write_json_atomic, IoContext, StateError};

/// Whether `dir` is a container of the older layout (its run state beside its
/// records): its status sits in the root side. Every container an older berth
/// ever started or stopped has one; [`ContainerDir::migrate`] moves it last.
fn is_legacy(dir: &Path) -> bool {
    dir.join(LEGACY_STATUS).exists()
}

fn remove_if_there(path: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at("remove", path),
        _ => Ok(()),
    }
}

/// The files of the older layout that now live elsewhere.
const LEGACY_STATUS: &str = "status.json";
const LEGACY_LOCK: &str = "supervisor.lock";
const LEGACY_SERVICE: &str = "service.json";
const LEGACY_VOLUMES: &str = "volumes.json";

/// The extended attribute that names the project owning a container directory.
const OWNER_XATTR: &str = "user.berth.project";

/// Keys `container.json` holds beside the record's own fields.
const SERVICE_KEY: &str = "service_config";
const VOLUMES_KEY: &str = "named_volumes";

/// The directory of one container (`<root>/containers/<id>`), its run-side
/// directory (`<run>/containers/<id>`) and the names in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerDir {
    dir: PathBuf,
    run: PathBuf,
}

impl ContainerDir {
    /// The container whose directory is `dir`. Its run side is found from the
    /// run dir this process was given for the root (see [`super::layout::run_dir_of`]);
    /// a directory outside a state root (a test's) or in the older layout keeps
    /// everything in itself.
    pub fn new(dir: impl Into<PathBuf>) -> ContainerDir {
        let dir = dir.into();
        let in_root = dir
            .parent()
            .filter(|p| p.file_name().is_some_and(|n| n == "containers"))
            .and_then(Path::parent);
        let run = match (in_root, dir.file_name()) {
            (Some(root), Some(id)) if !is_legacy(&dir) => {
                super::layout::run_dir_of(root).join("containers").join(id)
            }
            _ => dir.clone(),
        };
        ContainerDir { dir, run }
    }

    /// The run-side directory (`<run>/containers/<id>`).
    pub fn run_path(&self) -> &Path {
        &self.run
    }

    /// Makes the run-side directory (closed to others): before a supervisor
    /// starts, and again after a reboot emptied the run dir.
    pub fn ensure_run_dir(&self) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        // `<run>/containers` first, marked before a container's directory goes
        // into it, so that each one lands in a block group of its own.
        if let Some(all) = self.run.parent().filter(|_| self.run != self.dir) {
            super::topdir::make_spread(all, &b)?;
        }
        b.create(&self.run)
    }

    /// Removes the run-side directory (the container is gone).
    pub fn remove_run_dir(&self) -> Result<(), StateError> {
        if self.run == self.dir {
            return Ok(());
        }
        match super::remove_tree(&self.run) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at("remove", &self.run),
            _ => Ok(()),
        }
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

    /// `project`: which project claimed the directory, where no extended
    /// attribute can say it ([`ContainerDir::claim`]) and in older roots.
    pub fn owner(&self) -> PathBuf {
        self.dir.join("project")
    }

    /// Claims the directory for `project` before anything else is written:
    /// an extended attribute of the directory itself (no inode of its own on
    /// the state filesystem), or the `project` file where the filesystem has
    /// no user attributes.
    pub fn claim(&self, project: &str) -> Result<(), StateError> {
        // `xattr::get` reads up to 256 bytes: a longer name goes to the file.
        if project.len() < 256
            && super::xattr::set(&self.dir, OWNER_XATTR, project.as_bytes()).is_ok()
        {
            return Ok(());
        }
        std::fs::write(self.owner(), project).at("write", &self.owner())
    }

    /// The project that claimed the directory ([`ContainerDir::claim`]).
    pub fn claimed_by(&self) -> Option<String> {
        match super::xattr::get(&self.dir, OWNER_XATTR) {
            Some(v) => String::from_utf8(v).ok(),
            None => std::fs::read_to_string(self.owner()).ok(),
        }
    }

    /// `container.json`: the container's record ([`crate::container::ContainerRecord`]).
    pub fn record(&self) -> PathBuf {
        self.dir.join("container.json")
    }

    /// `status.json`: what its supervisor observed ([`crate::container::Status`]).
    pub fn status(&self) -> PathBuf {
        self.run.join("status.json")
    }

    /// `launch.json`: what its supervisor starts ([`crate::supervise::launch::LaunchConfig`]).
    pub fn launch(&self) -> PathBuf {
        self.dir.join("launch.json")
    }

    /// `net.json`: its network attachments.
    pub fn net(&self) -> PathBuf {
        self.dir.join("net.json")
    }

    /// `supervisor.lock`: held by its one supervisor (and by `rm` taking it apart).
    pub fn supervisor_lock(&self) -> PathBuf {
        self.run.join("supervisor.lock")
    }

    /// `supervisor.log`: the supervisor's own stdout and stderr.
    pub fn supervisor_log(&self) -> PathBuf {
        self.run.join("supervisor.log")
    }

    /// `supervisor.sock`: the supervisor's control socket.
    pub fn supervisor_sock(&self) -> PathBuf {
        self.run.join("supervisor.sock")
    }

    /// `log`: the container's output, one JSON object per line.
    pub fn log(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// `runtime/`: berth-runtime's state of the running container.
    pub fn runtime(&self) -> PathBuf {
        self.run.join("runtime")
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

    /// Writes one of the files of a container being made (its record not yet
    /// written), in place and without a sync: nobody reads them before the
    /// record exists, and a berth killed meanwhile leaves a directory without a
    /// record, which `repair` removes. [`ContainerDir::sync_made`] decides which
    /// of them a power loss must not take back.
    /// Compact JSON: these are the machine's files (the runtime spec is 20 KiB
    /// compact), and pretty-printing them was a fifth of the instructions
    /// `up` spent writing per container.
    pub fn write_new<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), StateError> {
        let bytes = super::atomic::json_bytes(path, value, false)?;
        std::fs::write(path, bytes).at("write", path)
    }

    /// Makes durable, before the record names them, the files of a container
    /// being made that a start after a power loss would read: its launch
    /// config and its `/etc` files. Each fsync is a device flush of its own on
    /// a filesystem without a journal (12 ms here), so only a container that
    /// is started again as it is after a reboot pays for them:
    /// `on_berth_network` says it is not. Its network namespace does not
    /// survive the reboot, so the next `up` finds its networking lost and
    /// makes it anew ([`crate::engine::repair::network_lost`]), and `down`
    /// needs nothing of it but the record (which holds its networks too).
    pub fn sync_made(&self, on_berth_network: bool) -> Result<(), StateError> {
        if on_berth_network {
            return Ok(());
        }
        for p in [
            self.launch(),
            self.hosts(),
            self.hostname(),
            self.resolv_conf(),
        ] {
            match std::fs::File::open(&p) {
                Ok(f) => f.sync_all().at("fsync", &p)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).at("open", &p),
            }
        }
        Ok(())
    }

    /// Writes `container.json` once for a container being made: its record,
    /// the service as it was made (what `plan` compares and hooks read) and the
    /// named volumes it mounts, in one file and one atomic write. The
    /// contents are durable before the name; the name is not synced (one
    /// flush less per container): a power loss that takes the rename back
    /// leaves a claimed directory without a record, which `repair` removes.
    pub fn write_made<T: Serialize, S: Serialize>(
        &self,
        record: &T,
        service: &S,
        volumes: &[String],
    ) -> Result<(), StateError> {
        let path = self.record();
        let json = |source| StateError::Json {
            path: path.clone(),
            source,
        };
        let mut value = serde_json::to_value(record).map_err(json)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                SERVICE_KEY.into(),
                serde_json::to_value(service).map_err(json)?,
            );
            obj.insert(
                VOLUMES_KEY.into(),
                serde_json::to_value(volumes).map_err(json)?,
            );
        }
        super::atomic::write_json_unnamed_sync(&path, &value)
    }

    /// Changes `container.json` in place, keeping what the change does not name.
    pub fn update_record(
        &self,
        change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
    ) -> Result<(), StateError> {
        let path = self.record();
        let bytes = std::fs::read(&path).at("read", &path)?;
        let mut value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|source| StateError::Json {
                path: path.clone(),
                source,
            })?;
        if let Some(obj) = value.as_object_mut() {
            change(obj);
        }
        write_json_atomic(&path, &value)
    }

    /// One of the keys `container.json` holds beside the record, or the file
    /// an older layout kept it in.
    fn read_stored(&self, key: &str, legacy: &str) -> Option<serde_json::Value> {
        let mut record: serde_json::Map<String, serde_json::Value> =
            self.read_json(&self.record())?;
        match record.remove(key) {
            Some(v) => Some(v),
            None => self.read_json(&self.dir.join(legacy)),
        }
    }

    /// The named volumes it mounts (empty when none were recorded).
    pub fn read_volumes(&self) -> Vec<String> {
        self.read_stored(VOLUMES_KEY, LEGACY_VOLUMES)
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    /// The service it was made from, as stored at create.
    pub fn read_service<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_value(self.read_stored(SERVICE_KEY, LEGACY_SERVICE)?).ok()
    }

    /// Whether it still has files of the older layout ([`ContainerDir::migrate`]
    /// has work to do): its status beside its records, or a `service.json`.
    pub fn is_old_layout(&self) -> bool {
        self.run == self.dir && is_legacy(&self.dir) || self.dir.join(LEGACY_SERVICE).exists()
    }

    /// This container with its run side where the current layout has it.
    fn migrated(&self) -> Option<ContainerDir> {
        let root = self.dir.parent().and_then(Path::parent)?;
        Some(ContainerDir {
            dir: self.dir.clone(),
            run: super::layout::run_dir_of(root)
                .join("containers")
                .join(self.dir.file_name()?),
        })
    }

    /// Moves a container of the older layout to this one: its service and
    /// volumes into `container.json`, its run state to the run side. Only
    /// while no supervisor runs it (one of an older berth keeps its files where
    /// it has them) and under its project's lock. Idempotent: a berth killed
    /// half-way leaves files both layouts read, and the next call finishes.
    pub fn migrate(&self) -> Result<bool, StateError> {
        let legacy = [LEGACY_SERVICE, LEGACY_VOLUMES, LEGACY_STATUS, LEGACY_LOCK]
            .iter()
            .any(|n| self.dir.join(n).exists());
        if !legacy || !self.record().exists() {
            return Ok(false);
        }
        let lock_path = self.dir.join(LEGACY_LOCK);
        let _held = if lock_path.exists() {
            match super::try_lock(&lock_path).at("lock", &lock_path)? {
                Some(l) => Some(l),
                None => return Ok(false),
            }
        } else {
            None
        };
        // Records first: both keys land in container.json before either old
        // file goes.
        let service: Option<serde_json::Value> = self.read_json(&self.dir.join(LEGACY_SERVICE));
        let volumes: Option<serde_json::Value> = self.read_json(&self.dir.join(LEGACY_VOLUMES));
        if service.is_some() || volumes.is_some() {
            self.update_record(|obj| {
                if let Some(s) = service {
                    obj.entry(SERVICE_KEY).or_insert(s);
                }
                if let Some(v) = volumes {
                    obj.entry(VOLUMES_KEY).or_insert(v);
                }
            })?;
        }
        for n in [LEGACY_SERVICE, LEGACY_VOLUMES] {
            remove_if_there(&self.dir.join(n))?;
        }
        // Then the run state. The status is the one record worth keeping, and
        // it goes last: its presence is what marks the container as old.
        let Some(moved) = self.migrated() else {
            return Ok(true);
        };
        for n in ["supervisor.sock", "supervisor.log"] {
            remove_if_there(&self.dir.join(n))?;
        }
        let runtime = self.dir.join("runtime");
        if runtime.exists() {
            std::fs::remove_dir_all(&runtime).at("remove", &runtime)?;
        }
        remove_if_there(&lock_path)?;
        let old_status = self.dir.join(LEGACY_STATUS);
        if let Ok(bytes) = std::fs::read(&old_status) {
            moved.ensure_run_dir().at("create", &moved.run)?;
            super::write_atomic(&moved.status(), &bytes)?;
            remove_if_there(&old_status)?;
        }
        Ok(true)
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
    fn records_stay_in_the_root_and_run_state_goes_to_the_run_dir() {
        let d = ContainerDir::new("/berth-cd-t/containers/abc");
        assert_eq!(d.id(), "abc");
        assert_eq!(
            d.record(),
            Path::new("/berth-cd-t/containers/abc/container.json")
        );
        assert_eq!(
            d.status(),
            Path::new("/berth-cd-t/run/containers/abc/status.json")
        );
        assert_eq!(
            d.supervisor_lock(),
            Path::new("/berth-cd-t/run/containers/abc/supervisor.lock")
        );
        assert_eq!(
            d.runtime(),
            Path::new("/berth-cd-t/run/containers/abc/runtime")
        );
        assert_eq!(d.log(), Path::new("/berth-cd-t/containers/abc/log"));
    }

    #[test]
    fn service_and_volumes_live_in_the_record() {
        let t = tempfile::tempdir().unwrap();
        let d = ContainerDir::new(t.path().join("containers/c1"));
        std::fs::create_dir_all(d.path()).unwrap();
        assert!(d.read_volumes().is_empty());
        assert_eq!(d.read_service::<serde_json::Value>(), None);
        d.write_made(
            &serde_json::json!({"id": "c1", "name": "p-web-1"}),
            &serde_json::json!({"image": "busybox"}),
            &["v1".to_string()],
        )
        .unwrap();
        assert_eq!(d.read_volumes(), vec!["v1".to_string()]);
        assert_eq!(
            d.read_service::<serde_json::Value>(),
            Some(serde_json::json!({"image": "busybox"}))
        );
        d.update_record(|r| {
            r.insert("name".into(), "renamed".into());
        })
        .unwrap();
        assert_eq!(d.read_volumes(), vec!["v1".to_string()]);
        let all: serde_json::Value = d.read_json(&d.record()).unwrap();
        assert_eq!(all["name"], "renamed");
    }

    #[test]
    fn an_old_layout_is_read_in_place_then_migrated() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("containers/c1");
        std::fs::create_dir_all(dir.join("runtime")).unwrap();
        let write = |n: &str, v: serde_json::Value| {
            std::fs::write(dir.join(n), serde_json::to_vec(&v).unwrap()).unwrap()
        };
        write("container.json", serde_json::json!({"id": "c1"}));
        write("service.json", serde_json::json!({"image": "busybox"}));
        write("volumes.json", serde_json::json!(["v1"]));
        write("status.json", serde_json::json!({"state": "exited"}));
        std::fs::write(dir.join("supervisor.lock"), b"").unwrap();

        // Read where an older berth left them.
        let old = ContainerDir::new(&dir);
        assert_eq!(old.status(), dir.join("status.json"));
        assert_eq!(old.read_volumes(), vec!["v1".to_string()]);

        // A supervisor of an older berth still holding its lock: left alone.
        let held = crate::state::try_lock(&dir.join("supervisor.lock"))
            .unwrap()
            .unwrap();
        assert!(!old.migrate().unwrap());
        drop(held);

        assert!(old.migrate().unwrap());
        let new = ContainerDir::new(&dir);
        let run = t.path().join("run/containers/c1");
        assert_eq!(new.status(), run.join("status.json"));
        let status: serde_json::Value = new.read_json(&new.status()).unwrap();
        assert_eq!(status["state"], "exited");
        assert_eq!(new.read_volumes(), vec!["v1".to_string()]);
        assert_eq!(
            new.read_service::<serde_json::Value>(),
            Some(serde_json::json!({"image": "busybox"}))
        );
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["container.json"]);
        // Done once; a second call finds nothing to do.
        assert!(!new.migrate().unwrap());
    }
}
