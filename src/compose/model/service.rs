//! A service: every attribute of the compose specification, in compose-go's
//! field order, which is the order `docker compose config` prints.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_yaml_ng::Value;

use crate::compose::model::build::BuildConfig;
use crate::compose::model::bytes::UnitBytes;
use crate::compose::model::cast;
use crate::compose::model::deploy::{DeployConfig, DeviceRequest};
use crate::compose::model::duration::Duration;
use crate::compose::model::file_object::FileReferenceConfig;
use crate::compose::model::healthcheck::HealthCheckConfig;
use crate::compose::model::network::ServiceNetworkConfig;
use crate::compose::model::port::ServicePortConfig;
use crate::compose::model::ser::{
    is_false, is_zero_f32, is_zero_i64, json_mode, ser_f32, skip_command, skip_extensions,
};
use crate::compose::model::volume_mount::ServiceVolumeConfig;

/// One service of the project.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceConfig {
    /// The service's key (not serialized; the map key carries it).
    #[serde(skip)]
    pub name: String,
    /// Profiles that enable this service.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub profiles: Vec<String>,
    /// OCI annotations.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Attach logs on `up`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cast::opt_bool"
    )]
    pub attach: Option<bool>,
    /// How to build the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildConfig>,
    /// `develop.watch` rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub develop: Option<DevelopConfig>,
    /// Block IO limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blkio_config: Option<BlkioConfig>,
    /// Capabilities to add.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub cap_add: Vec<String>,
    /// Capabilities to drop.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub cap_drop: Vec<String>,
    /// Parent cgroup.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub cgroup_parent: String,
    /// `host` or `private` cgroup namespace.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub cgroup: String,
    /// CPU count (Windows).
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "cast::i64"
    )]
    pub cpu_count: i64,
    /// CPU percent (Windows).
    #[serde(
        default,
        skip_serializing_if = "is_zero_f32",
        serialize_with = "ser_f32",
        deserialize_with = "cast::f32"
    )]
    pub cpu_percent: f32,
    /// CFS period.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "cast::i64"
    )]
    pub cpu_period: i64,
    /// CFS quota.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "cast::i64"
    )]
    pub cpu_quota: i64,
    /// Realtime period.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "cast::i64"
    )]
    pub cpu_rt_period: i64,
    /// Realtime runtime.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "cast::i64"
    )]
    pub cpu_rt_runtime: i64,
    /// CPUs (fractional).
    #[serde(
        default,
        skip_serializing_if = "is_zero_f32",
        serialize_with = "ser_f32",
        deserialize_with = "cast::f32"
    )]
    pub cpus: f32,
    /// CPUs the container may run on.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub cpuset: String,
    /// CPU shares (relative weight).
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "cast::i64"
    )]
    pub cpu_shares: i64,
    /// Command; `None` keeps the image's, `Some([])` clears it.
    #[serde(
        default,
        skip_serializing_if = "skip_command",
        deserialize_with = "cast::opt_strings"
    )]
    pub command: Option<Vec<String>>,
    /// Configs to mount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileReferenceConfig>,
    /// Fixed container name.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub container_name: String,
    /// Windows credential spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_spec: Option<CredentialSpecConfig>,
    /// Services this one waits for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, ServiceDependency>,
    /// Replicas, resources, restart policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployConfig>,
    /// Device cgroup rules.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub device_cgroup_rules: Vec<String>,
    /// Host devices to map.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceMapping>,
    /// DNS servers.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub dns: Vec<String>,
    /// DNS options.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub dns_opt: Vec<String>,
    /// DNS search domains.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub dns_search: Vec<String>,
    /// Legacy top-level dockerfile.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub dockerfile: String,
    /// NIS domain name.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub domainname: String,
    /// Entrypoint; `None` keeps the image's, `Some([])` clears it.
    #[serde(
        default,
        skip_serializing_if = "skip_command",
        deserialize_with = "cast::opt_strings"
    )]
    pub entrypoint: Option<Vec<String>>,
    /// External provider instead of a container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ServiceProviderConfig>,
    /// Environment; `None` values are taken from the project environment.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::opt_string_map"
    )]
    pub environment: BTreeMap<String, Option<String>>,
    /// Env files, in order.
    #[serde(default, rename = "env_file", skip_serializing_if = "Vec::is_empty")]
    pub env_files: Vec<EnvFile>,
    /// Exposed ports (not published).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub expose: Vec<String>,
    /// Where this service was extended from (kept only without normalization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<ExtendsConfig>,
    /// Links to containers outside the project.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub external_links: Vec<String>,
    /// Extra `/etc/hosts` entries: host → addresses.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "ser_hosts"
    )]
    pub extra_hosts: BTreeMap<String, Vec<String>>,
    /// Supplementary groups.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub group_add: Vec<String>,
    /// GPU requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<DeviceRequest>,
    /// Container hostname.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub hostname: String,
    /// Health probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthCheckConfig>,
    /// Image reference.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub image: String,
    /// Run an init process as pid 1.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cast::opt_bool"
    )]
    pub init: Option<bool>,
    /// IPC namespace mode.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub ipc: String,
    /// Isolation technology (Windows).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub isolation: String,
    /// Container labels.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub labels: BTreeMap<String, String>,
    /// Files to read labels from.
    #[serde(
        default,
        rename = "label_file",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub label_files: Vec<String>,
    /// Legacy links (`service[:alias]`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub links: Vec<String>,
    /// Log driver and options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<LoggingConfig>,
    /// Legacy log driver.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub log_driver: String,
    /// Legacy log options.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub log_opt: BTreeMap<String, String>,
    /// Memory limit.
    #[serde(default, skip_serializing_if = "UnitBytes::is_zero")]
    pub mem_limit: UnitBytes,
    /// Memory soft limit.
    #[serde(default, skip_serializing_if = "UnitBytes::is_zero")]
    pub mem_reservation: UnitBytes,
    /// Memory plus swap limit.
    #[serde(default, skip_serializing_if = "UnitBytes::is_zero")]
    pub memswap_limit: UnitBytes,
    /// Swappiness (compose-go types it as bytes).
    #[serde(default, skip_serializing_if = "UnitBytes::is_zero")]
    pub mem_swappiness: UnitBytes,
    /// MAC address.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub mac_address: String,
    /// AI models this service uses.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, Option<ServiceModelConfig>>,
    /// Legacy `net`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub net: String,
    /// `none`, `host`, `service:x`, `container:x`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub network_mode: String,
    /// Networks to join; `None` attachments use defaults. Boxed: a map's first
    /// node has room for eleven entries, and most services have one network
    /// with no settings (`default`); unboxed, that node took 2.5 KiB per
    /// service, a tenth of a no-op `up`'s heap (its page faults).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Option<Box<ServiceNetworkConfig>>>,
    /// Never OOM-kill.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub oom_kill_disable: bool,
    /// OOM score adjustment.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "cast::i64"
    )]
    pub oom_score_adj: i64,
    /// PID namespace mode.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub pid: String,
    /// Process limit.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "cast::i64"
    )]
    pub pids_limit: i64,
    /// Target platform.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub platform: String,
    /// Published ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePortConfig>,
    /// Privileged container.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub privileged: bool,
    /// `always`, `never`, `missing`, `build`, `daily`, `weekly`, `every_<d>`, `refresh`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub pull_policy: String,
    /// Read-only root filesystem.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub read_only: bool,
    /// Restart policy.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub restart: String,
    /// OCI runtime name.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub runtime: String,
    /// Number of containers.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cast::opt_i64"
    )]
    pub scale: Option<i64>,
    /// Secrets to mount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileReferenceConfig>,
    /// Security options.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub security_opt: Vec<String>,
    /// `/dev/shm` size.
    #[serde(default, skip_serializing_if = "UnitBytes::is_zero")]
    pub shm_size: UnitBytes,
    /// Keep stdin open.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub stdin_open: bool,
    /// Time between stop signal and SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    /// Stop signal.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub stop_signal: String,
    /// Storage driver options.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub storage_opt: BTreeMap<String, String>,
    /// Namespaced sysctls.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub sysctls: BTreeMap<String, String>,
    /// tmpfs mounts (`path[:options]`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub tmpfs: Vec<String>,
    /// Allocate a TTY.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub tty: bool,
    /// Resource limits by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    /// Mount the engine API socket.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub use_api_socket: bool,
    /// User (and group) to run as.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub user: String,
    /// User namespace mode.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub userns_mode: String,
    /// UTS namespace mode.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub uts: String,
    /// Legacy volume driver.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub volume_driver: String,
    /// Mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<ServiceVolumeConfig>,
    /// Mount all volumes of other services or containers.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub volumes_from: Vec<String>,
    /// Working directory inside the container.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub working_dir: String,
    /// Hooks run, each in a container of its own, before start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_start: Vec<ServiceHook>,
    /// Hooks run after start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<ServiceHook>,
    /// Hooks run before stop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<ServiceHook>,
    /// `x-*` keys (and, before validation, unknown keys).
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

impl ServiceConfig {
    /// Number of containers: `scale` > `deploy.replicas` > 1.
    pub fn get_scale(&self) -> i64 {
        self.scale
            .or_else(|| self.deploy.as_ref().and_then(|d| d.replicas))
            .unwrap_or(1)
    }
}

/// Serializes extra hosts as compose-go does: sorted `host=ip` strings.
pub fn ser_hosts<S: Serializer>(
    m: &BTreeMap<String, Vec<String>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut list: Vec<String> = m
        .iter()
        .flat_map(|(h, ips)| ips.iter().map(move |ip| format!("{h}={ip}")))
        .collect();
    list.sort();
    list.serialize(s)
}

/// One `depends_on` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceDependency {
    /// `service_started`, `service_healthy` or `service_completed_successfully`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub condition: String,
    /// Restart this service when the dependency is restarted.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub restart: bool,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
    /// Fail when the dependency is missing (else warn).
    #[serde(default = "yes", deserialize_with = "cast::bool")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// One `env_file` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvFile {
    /// File path.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub path: String,
    /// Error when missing; an opt-out bool (printed only when false).
    #[serde(
        default = "yes",
        skip_serializing_if = "is_true",
        deserialize_with = "cast::bool"
    )]
    pub required: bool,
    /// `raw` disables quote and `$` processing.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub format: String,
}

/// `extends`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExtendsConfig {
    /// File holding the base service.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub file: String,
    /// Base service.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub service: String,
}

/// `logging`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoggingConfig {
    /// Log driver.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub driver: String,
    /// Driver options.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub options: BTreeMap<String, String>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// One `devices` entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeviceMapping {
    /// Host device.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub source: String,
    /// Path in the container.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub target: String,
    /// cgroup permissions (`rwm`).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub permissions: String,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// `blkio_config`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BlkioConfig {
    /// Default weight.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "cast::i64"
    )]
    pub weight: i64,
    /// Per-device weights.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weight_device: Vec<WeightDevice>,
    /// Read rate limits (bytes/s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_read_bps: Vec<ThrottleDevice>,
    /// Read rate limits (IO/s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_read_iops: Vec<ThrottleDevice>,
    /// Write rate limits (bytes/s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_write_bps: Vec<ThrottleDevice>,
    /// Write rate limits (IO/s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_write_iops: Vec<ThrottleDevice>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// A device and its weight.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct WeightDevice {
    /// Device path.
    #[serde(default, deserialize_with = "cast::string")]
    pub path: String,
    /// Weight.
    #[serde(default, deserialize_with = "cast::i64")]
    pub weight: i64,
}

/// A device and its rate.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct ThrottleDevice {
    /// Device path.
    #[serde(default, deserialize_with = "cast::string")]
    pub path: String,
    /// Rate.
    #[serde(default)]
    pub rate: UnitBytes,
}

// compose-go leaves these fields untagged: YAML lowercases the names, JSON keeps Go's.
impl Serialize for WeightDevice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        let json = json_mode();
        m.serialize_entry(if json { "Path" } else { "path" }, &self.path)?;
        m.serialize_entry(if json { "Weight" } else { "weight" }, &self.weight)?;
        m.end()
    }
}

impl Serialize for ThrottleDevice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        let json = json_mode();
        m.serialize_entry(if json { "Path" } else { "path" }, &self.path)?;
        m.serialize_entry(if json { "Rate" } else { "rate" }, &self.rate)?;
        m.end()
    }
}

/// `credential_spec` (Windows).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CredentialSpecConfig {
    /// Config name.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub config: String,
    /// File.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub file: String,
    /// Registry value.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub registry: String,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// `develop`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DevelopConfig {
    /// Watch rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<Trigger>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// One watch rule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Trigger {
    /// Watched path.
    #[serde(default, deserialize_with = "cast::string")]
    pub path: String,
    /// `rebuild`, `restart`, `sync`, `sync+restart`, `sync+exec`.
    #[serde(default, deserialize_with = "cast::string")]
    pub action: String,
    /// Sync target in the container.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub target: String,
    /// Command for `sync+exec`.
    #[serde(default, skip_serializing_if = "ServiceHook::is_empty")]
    pub exec: ServiceHook,
    /// Ignore patterns.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub ignore: Vec<String>,
    /// Include patterns (only matching paths trigger the rule).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub include: Vec<String>,
    /// Sync the whole path when watch starts.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub initial_sync: bool,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// A lifecycle hook command.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceHook {
    /// Command to exec.
    #[serde(
        default,
        skip_serializing_if = "skip_command",
        deserialize_with = "cast::opt_strings"
    )]
    pub command: Option<Vec<String>>,
    /// User to exec as.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub user: String,
    /// Privileged exec.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub privileged: bool,
    /// Working directory.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub working_dir: String,
    /// Extra environment.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::opt_string_map"
    )]
    pub environment: BTreeMap<String, Option<String>>,
    /// The image a `pre_start` hook runs in (default: the service's).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub image: String,
    /// A `pre_start` hook run once per replica rather than once per service.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub per_replica: bool,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

impl ServiceHook {
    /// True when nothing is set (YAML `omitempty`).
    pub fn is_empty(&self) -> bool {
        !json_mode() && *self == ServiceHook::default()
    }
}

/// `provider`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceProviderConfig {
    /// Provider plugin.
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub kind: String,
    /// Options (a key may repeat).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, Vec<String>>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// A service's use of a model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceModelConfig {
    /// Variable receiving the endpoint.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub endpoint_var: String,
    /// Variable receiving the model name.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub model_var: String,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// One ulimit: a single value or soft/hard.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ulimit {
    /// Both limits at once (0 when soft/hard are used).
    pub single: i64,
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}

impl Serialize for Ulimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.single != 0 {
            return s.serialize_i64(self.single);
        }
        let json = json_mode();
        let mut m = s.serialize_map(None)?;
        if !json || self.soft != 0 {
            m.serialize_entry("soft", &self.soft)?;
        }
        if !json || self.hard != 0 {
            m.serialize_entry("hard", &self.hard)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Ulimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Mapping(m) => {
                let mut u = Ulimit::default();
                for (k, v) in m {
                    let n = cast::value_to_i64(&v).map_err(D::Error::custom)?;
                    match k.as_str() {
                        Some("soft") => u.soft = n,
                        Some("hard") => u.hard = n,
                        _ => {
                            return Err(D::Error::custom(format!(
                                "unexpected ulimit key {}",
                                cast::value_to_string(&k).unwrap_or_default()
                            )))
                        }
                    }
                }
                Ok(u)
            }
            other => Ok(Ulimit {
                single: cast::value_to_i64(&other).map_err(D::Error::custom)?,
                ..Default::default()
            }),
        }
    }
}
