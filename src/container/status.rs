//! `status.json`: what the container's supervisor observed. Only the supervisor
//! writes it (atomically); the CLI reads it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::humanize::human_duration;
use crate::state::{io_error, write_json_volatile, StateError};

/// Docker's container states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    /// Made, never started.
    #[default]
    Created,
    /// Its process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// Waiting for the restart delay.
    Restarting,
    /// Its process ended and nothing will restart it.
    Exited,
    /// Its process could not be started or its supervisor died.
    Dead,
}

impl ContainerState {
    /// The lowercase word docker uses (`running`, `exited`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
        }
    }
}

/// The healthcheck's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Inside the start period, or no verdict yet.
    Starting,
    /// The last check passed.
    Healthy,
    /// `retries` checks in a row failed.
    Unhealthy,
}

/// What the supervisor knows of its container now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Status {
    /// The state.
    pub state: ContainerState,
    /// The supervisor's pid (it carries the container id in its command line).
    pub supervisor_pid: Option<u32>,
    /// The container's init pid on the host while it runs.
    pub pid: Option<u32>,
    /// When the current or last run started (seconds since the epoch).
    pub started_at: Option<f64>,
    /// When the last run ended.
    pub finished_at: Option<f64>,
    /// The last exit code.
    pub exit_code: Option<i32>,
    /// Whether the kernel's OOM killer ended the last run.
    pub oom_killed: bool,
    /// Restarts by policy so far.
    pub restart_count: u32,
    /// Set by `stop`/`kill`/`down`: the policy must not restart it.
    pub stopped_by_user: bool,
    /// The healthcheck's verdict, when the container has one.
    pub health: Option<Health>,
    /// Why the container is dead, when it is.
    pub error: Option<String>,
}

impl Status {
    /// The status file inside a container directory.
    pub fn path(container_dir: &Path) -> PathBuf {
        crate::state::ContainerDir::new(container_dir).status()
    }

    /// Writes the status atomically, without fsync: it lives in the run dir
    /// and means nothing after a reboot (see [`write_json_volatile`]).
    pub fn save(&self, container_dir: &Path) -> Result<(), StateError> {
        write_json_volatile(&Self::path(container_dir), self)
    }

    /// Reads the status; a container without one is `Created`.
    pub fn load(container_dir: &Path) -> Result<Status, StateError> {
        Self::read(Self::path(container_dir))
    }

    /// Reads the status at `path` (a [`crate::state::ContainerDir::status`]);
    /// none there is `Created`.
    pub fn read(path: PathBuf) -> Result<Status, StateError> {
        match super::observe::read_small(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| StateError::Json { path, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Status::default()),
            Err(e) => Err(io_error("read", &path, e)),
        }
    }

    /// The STATUS column of `ps`: `Up 5 seconds (healthy)`, `Exited (1) 2 minutes ago`.
    pub fn describe(&self, now: SystemTime) -> String {
        let since = |t: Option<f64>| {
            let then = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(t.unwrap_or(0.0).max(0.0));
            human_duration(now.duration_since(then).unwrap_or_default())
        };
        match self.state {
            ContainerState::Created => "Created".into(),
            ContainerState::Running | ContainerState::Paused => {
                let mut s = format!("Up {}", since(self.started_at));
                match (self.state, self.health) {
                    (ContainerState::Paused, _) => s.push_str(" (Paused)"),
                    (_, Some(Health::Starting)) => s.push_str(" (health: starting)"),
                    (_, Some(Health::Healthy)) => s.push_str(" (healthy)"),
                    (_, Some(Health::Unhealthy)) => s.push_str(" (unhealthy)"),
                    _ => {}
                }
                s
            }
            ContainerState::Restarting => format!(
                "Restarting ({}) {} ago",
                self.exit_code.unwrap_or(0),
                since(self.finished_at)
            ),
            ContainerState::Exited => format!(
                "Exited ({}) {} ago",
                self.exit_code.unwrap_or(0),
                since(self.finished_at)
            ),
            ContainerState::Dead => "Dead".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn describes_like_docker_ps() {
        let mut s = Status {
            state: ContainerState::Running,
            started_at: Some(100.0),
            ..Status::default()
        };
        assert_eq!(s.describe(at(105)), "Up 5 seconds");
        s.health = Some(Health::Healthy);
        assert_eq!(s.describe(at(105)), "Up 5 seconds (healthy)");
        s.state = ContainerState::Exited;
        s.exit_code = Some(137);
        s.finished_at = Some(110.0);
        assert_eq!(s.describe(at(230)), "Exited (137) 2 minutes ago");
        assert_eq!(Status::default().describe(at(0)), "Created");
    }

    #[test]
    fn missing_status_reads_as_created() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Status::load(dir.path()).unwrap().state,
            ContainerState::Created
        );
        let s = Status {
            state: ContainerState::Exited,
            exit_code: Some(3),
            ..Status::default()
        };
        s.save(dir.path()).unwrap();
        assert_eq!(Status::load(dir.path()).unwrap(), s);
    }
}
