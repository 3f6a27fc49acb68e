//! `container.json`: what `up`/`create`/`run` decided for a container. Written by
//! the CLI under the project lock, read by everyone.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::state::{io_error, write_json_atomic, StateError};

/// Label keys docker compose puts on every container.
pub mod labels {
    /// The project name.
    pub const PROJECT: &str = "com.docker.compose.project";
    /// The service name.
    pub const SERVICE: &str = "com.docker.compose.service";
    /// The replica number, from 1.
    pub const NUMBER: &str = "com.docker.compose.container-number";
    /// `True` for `run` containers.
    pub const ONEOFF: &str = "com.docker.compose.oneoff";
    /// The service's config hash when the container was made.
    pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
    /// The project directory.
    pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
    /// The compose files, comma separated.
    pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
    /// The services this one depends on (`svc:condition:restart`, comma separated).
    pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
    /// The image digest the container was made from.
    pub const IMAGE: &str = "com.docker.compose.image";
    /// The compose version that made it.
    pub const VERSION: &str = "com.docker.compose.version";
}

/// One network the container is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// The network's full name (`proj_default`).
    pub network: String,
    /// The interface name inside (`eth0`).
    pub ifname: String,
    /// The IPv4 address, CIDR form.
    pub ipv4: Option<String>,
    /// The IPv6 address, CIDR form.
    pub ipv6: Option<String>,
    /// The MAC address.
    pub mac: Option<String>,
    /// The DNS names this container answers to on this network.
    pub aliases: Vec<String>,
}

/// One published port, as chosen when the container was started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRecord {
    /// The host address (`0.0.0.0`, `127.0.0.1`, `::`).
    pub host_ip: String,
    /// The host port (chosen by berth when the file left it open).
    pub host_port: u16,
    /// The port inside the container.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// Everything berth decided about one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// 64 hex digits, unique on the host.
    pub id: String,
    /// `<project>-<service>-<n>` or the service's `container_name`.
    pub name: String,
    /// The project name.
    pub project: String,
    /// The service name.
    pub service: String,
    /// The replica number, from 1.
    pub number: u32,
    /// Whether `run` made it.
    pub oneoff: bool,
    /// The image reference as the file wrote it.
    pub image: String,
    /// The image's digest (`sha256:…`) when the container was made.
    pub image_id: String,
    /// The command as run: entrypoint then arguments.
    pub command: Vec<String>,
    /// When it was made, RFC 3339.
    pub created: String,
    /// Docker compose's labels plus the service's own.
    pub labels: IndexMap<String, String>,
    /// Networks in attachment order.
    pub networks: Vec<NetworkRecord>,
    /// Published ports.
    pub ports: Vec<PortRecord>,
}

impl ContainerRecord {
    /// The record's file inside a container directory.
    pub fn path(container_dir: &Path) -> PathBuf {
        crate::state::ContainerDir::new(container_dir).record()
    }

    /// Writes the record atomically into `container_dir`.
    pub fn save(&self, container_dir: &Path) -> Result<(), StateError> {
        write_json_atomic(&Self::path(container_dir), self)
    }

    /// Reads the record of `container_dir`.
    pub fn load(container_dir: &Path) -> Result<ContainerRecord, StateError> {
        Self::read(Self::path(container_dir))
    }

    /// Reads the record at `path` (a [`crate::state::ContainerDir::record`]).
    pub fn read(path: PathBuf) -> Result<ContainerRecord, StateError> {
        let bytes = super::observe::read_small(&path).map_err(|e| io_error("read", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|source| StateError::Json { path, source })
    }

    /// The config hash label, if any.
    pub fn config_hash(&self) -> Option<&str> {
        self.labels.get(labels::CONFIG_HASH).map(String::as_str)
    }
}

/// Whether container names use docker-compose v1's `_` (`--compatibility`).
static V1_SEPARATOR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes container names docker-compose v1's (`<project>_<service>_<n>`), as
/// `--compatibility` or `COMPOSE_COMPATIBILITY` do in docker compose, for the
/// whole run (docker compose sets its `api.Separator` the same way).
pub fn use_v1_separator() {
    V1_SEPARATOR.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// What joins the parts of a container name: `-`, or `_` in compatibility mode.
pub fn separator() -> &'static str {
    if V1_SEPARATOR.load(std::sync::atomic::Ordering::Relaxed) {
        "_"
    } else {
        "-"
    }
}

/// Docker compose's default container name: `<project>-<service>-<n>`.
pub fn default_name(project: &str, service: &str, number: u32) -> String {
    let s = separator();
    format!("{project}{s}{service}{s}{number}")
}

/// A new random container id (64 hex digits), as docker makes them.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    // getrandom never blocks once the pool is up and never fails for 32 bytes on Linux.
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the buffer is valid for the remaining length.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n > 0 {
            filled += n as usize;
        }
    }
    crate::image::digest::to_hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let rec = ContainerRecord {
            id: new_id(),
            name: default_name("p", "web", 1),
            project: "p".into(),
            service: "web".into(),
            number: 1,
            oneoff: false,
            image: "busybox".into(),
            image_id: "sha256:00".into(),
            command: vec!["sh".into()],
            created: "2026-01-01T00:00:00Z".into(),
            labels: [(labels::CONFIG_HASH.to_string(), "abc".to_string())]
                .into_iter()
                .collect(),
            networks: vec![],
            ports: vec![],
        };
        rec.save(dir.path()).unwrap();
        let back = ContainerRecord::load(dir.path()).unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.config_hash(), Some("abc"));
        assert_eq!(back.name, "p-web-1");
        assert_eq!(back.id.len(), 64);
        assert_ne!(new_id(), back.id);
    }
}
