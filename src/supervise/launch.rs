//! `launch.json`: everything a supervisor needs to (re)start its container,
//! written by the CLI when it creates the container.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::health::HealthConfig;
use super::logfile::Rotation;
use super::restart::RestartPolicy;
use crate::state::{io_error, write_json_atomic, StateError};

/// The supervisor's instructions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LaunchConfig {
    /// The container id.
    pub id: String,
    /// The OCI runtime spec.
    pub spec: oci_spec::runtime::Spec,
    /// Image layer directories, top first (empty: `rootfs_dir` is used as is).
    pub lowers: Vec<PathBuf>,
    /// A plain root directory, when there are no layers.
    pub rootfs_dir: Option<PathBuf>,
    /// `init: true`.
    pub init: bool,
    /// `user:` (or the image's), resolved by the runtime against the image.
    pub user: Option<String>,
    /// The restart policy.
    pub policy: RestartPolicy,
    /// Log rotation.
    pub rotation: Option<Rotation>,
    /// The healthcheck, if any.
    pub healthcheck: Option<HealthConfig>,
    /// `stdin_open`: keep the container's stdin open for `attach`.
    #[serde(default)]
    pub stdin_open: bool,
    /// Hold the first run's output until a client attaches (a foreground `run`).
    #[serde(default)]
    pub await_attach: bool,
    /// Remove the container once it has exited for good (`run --rm -d`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_remove: bool,
}

impl LaunchConfig {
    /// The file inside a container directory.
    pub fn path(dir: &Path) -> PathBuf {
        crate::state::ContainerDir::new(dir).launch()
    }

    /// Writes it atomically.
    pub fn save(&self, dir: &Path) -> Result<(), StateError> {
        write_json_atomic(&Self::path(dir), self)
    }

    /// Reads it.
    pub fn load(dir: &Path) -> Result<LaunchConfig, StateError> {
        let path = Self::path(dir);
        let bytes = std::fs::read(&path).map_err(|e| io_error("read", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|source| StateError::Json { path, source })
    }
}
