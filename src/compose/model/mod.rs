//! The typed project model: serde structs for every compose-spec attribute,
//! in compose-go's field order, serializing like compose-go's yaml/json tags.

pub mod build;
pub mod bytes;
pub mod cast;
pub mod command;
pub mod deploy;
pub mod duration;
pub mod file_object;
pub mod healthcheck;
pub mod network;
pub mod port;
pub mod ser;
pub mod service;
pub mod volume_mount;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

pub use build::BuildConfig;
pub use bytes::UnitBytes;
pub use deploy::{DeployConfig, DeviceRequest, Resource, Resources, RestartPolicy};
pub use duration::Duration;
pub use file_object::{FileObjectConfig, FileReferenceConfig, VolumeConfig};
pub use healthcheck::HealthCheckConfig;
pub use network::{IpamConfig, IpamPool, NetworkConfig, ServiceNetworkConfig};
pub use port::ServicePortConfig;
pub use service::{EnvFile, ServiceConfig, ServiceDependency, Ulimit};
pub use volume_mount::{
    ServiceVolumeBind, ServiceVolumeConfig, ServiceVolumeTmpfs, ServiceVolumeVolume,
};

use ser::skip_extensions;

/// A loaded compose project: what `berth config` prints and the engine reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Project {
    /// Project name.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub name: String,
    /// Enabled services by name.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceConfig>,
    /// Networks by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkConfig>,
    /// Volumes by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, VolumeConfig>,
    /// Secrets by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, FileObjectConfig>,
    /// Configs by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, FileObjectConfig>,
    /// AI models by key (Docker Model Runner); kept, not run by berth.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, ModelConfig>,
    /// Top-level `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
    /// Project directory.
    #[serde(skip)]
    pub working_dir: PathBuf,
    /// Compose files the project came from.
    #[serde(skip)]
    pub compose_files: Vec<PathBuf>,
    /// Environment used for interpolation.
    #[serde(skip)]
    pub environment: BTreeMap<String, String>,
    /// Services disabled by profiles.
    #[serde(skip)]
    pub disabled_services: BTreeMap<String, ServiceConfig>,
    /// Active profiles.
    #[serde(skip)]
    pub profiles: Vec<String>,
}

/// A top-level AI model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Engine-side name.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub name: String,
    /// Model reference (`ai/smollm2`).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub model: String,
    /// Context window size.
    #[serde(
        default,
        skip_serializing_if = "ser::is_zero_i64",
        deserialize_with = "cast::i64"
    )]
    pub context_size: i64,
    /// Runtime flags.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub runtime_flags: Vec<String>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

impl Project {
    /// Enabled service names, sorted.
    pub fn service_names(&self) -> Vec<String> {
        self.services.keys().cloned().collect()
    }

    /// Enabled and disabled services together.
    pub fn all_services(&self) -> impl Iterator<Item = &ServiceConfig> {
        self.services
            .values()
            .chain(self.disabled_services.values())
    }

    /// The image a service runs: `image`, else `<project>-<service>` as docker compose names built images.
    pub fn image_name(&self, service: &ServiceConfig) -> String {
        if service.image.is_empty() {
            format!("{}-{}", self.name, service.name)
        } else {
            service.image.clone()
        }
    }
}
