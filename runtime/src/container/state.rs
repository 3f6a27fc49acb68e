//! state.json: what a later process needs to find the container again.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::Container;
use crate::cgroups::Cgroups;
use crate::error::{Error, Result, WrapIo};
use crate::syscall::raw;

/// File names inside the state dir.
pub(crate) const STATE: &str = "state.json";
/// The spec as saved by a runtime before the spec went into `state.json` (`config`):
/// still read from, and removed with, the state dirs such a runtime made.
pub(crate) const CONFIG: &str = "config.json";
pub(crate) const FIFO: &str = "exec.fifo";
pub(crate) const ROOTFS: &str = "rootfs";

/// Lifecycle status (OCI names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, waiting for `start`.
    Created,
    /// The process runs.
    Running,
    /// Frozen.
    Paused,
    /// The init exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// Persisted state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// OCI version of the spec.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Host pid of the init.
    pub pid: i32,
    /// Its start time in clock ticks, to detect pid reuse.
    pub start_time: u64,
    /// Bundle directory, if any.
    pub bundle: Option<PathBuf>,
    /// Cgroup directories.
    pub cgroups: Cgroups,
    /// Creation time, seconds since the epoch.
    pub created: u64,
    /// Whether the runtime's init is pid 1.
    pub init: bool,
}

/// The state document of runtime-spec runtime.md, as `state` prints it and hooks read
/// it on stdin.
pub(crate) fn state_doc(
    spec: Option<&oci_spec::runtime::Spec>,
    id: &str,
    bundle: Option<&Path>,
    status: &str,
    pid: i32,
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "ociVersion": spec.map_or("1.0.2", |s| s.version().as_str()),
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
    });
    if let Some(a) = spec.and_then(|s| s.annotations().as_ref()) {
        if !a.is_empty() {
            v["annotations"] = serde_json::json!(a);
        }
    }
    v
}

/// The spec inside `state.json`, read apart from the state itself: loading a container
/// (kill, state, delete) skips it unparsed; hooks, annotations and exec parse it.
#[derive(Deserialize)]
struct SavedConfig {
    #[serde(default)]
    config: Option<oci_spec::runtime::Spec>,
}

impl State {
    /// Write atomically (temp file + rename), with the spec (`config`, already JSON)
    /// in the same file: one file, so one inode, per container instead of two.
    pub(crate) fn save(&self, dir: &Path, config: Option<&[u8]>) -> Result<()> {
        let tmp = dir.join(".state.json.tmp");
        let mut data = serde_json::to_vec(self).map_err(|e| Error::Json {
            path: tmp.clone(),
            source: e,
        })?;
        if let Some(c) = config {
            // `self` serializes to an object: its closing brace makes room for one
            // more member.
            if data.pop() != Some(b'}') {
                return Err(Error::Spec("state does not serialize to an object".into()));
            }
            data.extend_from_slice(b",\"config\":");
            data.extend_from_slice(c);
            data.push(b'}');
        }
        std::fs::write(&tmp, data).at("write", &tmp)?;
        std::fs::rename(&tmp, dir.join(STATE)).at("rename", dir.join(STATE))
    }
}

impl Container {
    /// Load a container created earlier, possibly by another process.
    pub fn load(state_dir: &Path) -> Result<Container> {
        let path = state_dir.join(STATE);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = state_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                return Err(Error::NotFound(id));
            }
            Err(e) => return Err(e).at("read", &path),
        };
        let state: State = serde_json::from_slice(&data).map_err(|e| Error::Json {
            path: path.clone(),
            source: e,
        })?;
        // A pidfd only if the pid still names our process (same start time).
        let pidfd = raw::pidfd_open(state.pid)
            .ok()
            .filter(|_| raw::start_time(state.pid) == Some(state.start_time));
        Ok(Container {
            state,
            state_dir: state_dir.to_path_buf(),
            pidfd,
            pty: Mutex::new(None),
            exit: Mutex::new(None),
            timings: Default::default(),
            after_start_hooks: None,
        })
    }

    /// Whether the init has exited (or is gone).
    pub fn exited(&self) -> bool {
        let Some(fd) = &self.pidfd else { return true };
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // A pidfd polls readable once the process has exited (zombie or reaped).
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    /// Current status.
    pub fn status(&self) -> Status {
        if self.exited() {
            Status::Stopped
        } else if self.state_dir.join(FIFO).exists() {
            Status::Created
        } else if self.state.cgroups.is_frozen() {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The OCI runtime-spec state document.
    pub fn oci_state(&self) -> serde_json::Value {
        let status = self.status();
        let pid = if status == Status::Stopped {
            0
        } else {
            self.state.pid
        };
        let mut v = state_doc(
            self.saved_spec().as_ref(),
            &self.state.id,
            self.state.bundle.as_deref(),
            &status.to_string(),
            pid,
        );
        v["ociVersion"] = self.state.oci_version.clone().into();
        v
    }

    /// The spec saved at create (hooks, annotations, exec's defaults).
    pub fn saved_spec(&self) -> Option<oci_spec::runtime::Spec> {
        let (data, inside) = self.saved_spec_json()?;
        parse_saved_spec(&data, inside)
    }

    /// The saved spec's JSON: `state.json`, whose `config` holds it (`true`), or the
    /// `config.json` of a state dir made before that (`false`).
    fn saved_spec_json(&self) -> Option<(Vec<u8>, bool)> {
        let data = std::fs::read(self.state_dir.join(STATE)).ok()?;
        if data.windows(9).any(|w| w == b"\"config\":") {
            return Some((data, true));
        }
        Some((std::fs::read(self.state_dir.join(CONFIG)).ok()?, false))
    }

    /// The saved config.json when it may hold hooks named `hook` (their JSON key,
    /// e.g. `poststop`), else `None`: a file without the key has none of them, and
    /// is not parsed. A full parse of docker's default spec (its seccomp profile
    /// included) is a noticeable part of a container's whole run, and start and
    /// delete each need the spec only for their hooks.
    pub(crate) fn saved_spec_with_hooks(&self, hook: &str) -> Option<oci_spec::runtime::Spec> {
        if self.after_start_hooks == Some(false) {
            return None;
        }
        let (data, inside) = self.saved_spec_json()?;
        let key = format!("\"{hook}\"");
        if !data.windows(key.len()).any(|w| w == key.as_bytes()) {
            return None;
        }
        parse_saved_spec(&data, inside)
    }
}

fn parse_saved_spec(data: &[u8], inside_state: bool) -> Option<oci_spec::runtime::Spec> {
    if inside_state {
        serde_json::from_slice::<SavedConfig>(data).ok()?.config
    } else {
        serde_json::from_slice(data).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            oci_version: "1.0.2".into(),
            id: "c1".into(),
            pid: i32::MAX,
            start_time: 0,
            bundle: None,
            cgroups: Cgroups::default(),
            created: 0,
            init: false,
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("berth-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_spec_is_saved_inside_the_state_and_read_back() {
        let dir = temp_dir("inside");
        let spec = crate::spec::default_spec(&["/bin/true"]);
        state()
            .save(&dir, Some(&serde_json::to_vec(&spec).unwrap()))
            .unwrap();
        assert!(!dir.join(CONFIG).exists(), "one file");
        let c = Container::load(&dir).unwrap();
        assert_eq!(c.state().id, "c1");
        assert_eq!(c.saved_spec(), Some(spec));
        assert!(c.saved_spec_with_hooks("poststop").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_state_dir_of_an_older_runtime_keeps_its_spec_in_config_json() {
        let dir = temp_dir("older");
        let spec = crate::spec::default_spec(&["/bin/sh"]);
        state().save(&dir, None).unwrap();
        std::fs::write(dir.join(CONFIG), serde_json::to_vec(&spec).unwrap()).unwrap();
        let c = Container::load(&dir).unwrap();
        assert_eq!(c.saved_spec(), Some(spec));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
