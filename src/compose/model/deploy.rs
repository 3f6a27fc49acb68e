//! `deploy`: replicas, resources and restart policy (swarm-only keys are
//! parsed and kept, not acted on).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::compose::model::bytes::UnitBytes;
use crate::compose::model::cast;
use crate::compose::model::duration::Duration;
use crate::compose::model::ser::{
    is_zero_f32, is_zero_i64, is_zero_u64, ser_f32, skip_empty_struct, skip_extensions, IsEmpty,
};

/// The deploy section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeployConfig {
    /// `replicated` or `global`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub mode: String,
    /// Number of containers.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cast::opt_i64"
    )]
    pub replicas: Option<i64>,
    /// Labels on the service (not the containers).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub labels: BTreeMap<String, String>,
    /// Rolling update settings (swarm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateConfig>,
    /// Rollback settings (swarm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_config: Option<UpdateConfig>,
    /// Limits and reservations.
    #[serde(default, skip_serializing_if = "skip_empty_struct")]
    pub resources: Resources,
    /// Restart policy; overrides `restart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    /// Placement constraints (swarm).
    #[serde(default, skip_serializing_if = "skip_empty_struct")]
    pub placement: Placement,
    /// `vip` or `dnsrr` (swarm).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub endpoint_mode: String,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// Swarm update or rollback settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdateConfig {
    /// Containers updated at once.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cast::opt_u64"
    )]
    pub parallelism: Option<u64>,
    /// Wait between groups.
    #[serde(default, skip_serializing_if = "is_zero_duration")]
    pub delay: Duration,
    /// `continue`, `rollback` or `pause`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub failure_action: String,
    /// Time to watch for failure.
    #[serde(default, skip_serializing_if = "is_zero_duration")]
    pub monitor: Duration,
    /// Tolerated failure ratio.
    #[serde(
        default,
        skip_serializing_if = "is_zero_f32",
        serialize_with = "ser_f32",
        deserialize_with = "cast::f32"
    )]
    pub max_failure_ratio: f32,
    /// `stop-first` or `start-first`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub order: String,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

fn is_zero_duration(d: &Duration) -> bool {
    d.0 == 0
}

/// Limits and reservations.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Resources {
    /// Upper bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Resource>,
    /// Guaranteed minimums and devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservations: Option<Resource>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

impl IsEmpty for Resources {
    fn is_empty(&self) -> bool {
        self.limits.is_none() && self.reservations.is_none() && self.extensions.is_empty()
    }
}

/// One set of resource amounts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Resource {
    /// CPUs (fractional).
    #[serde(
        default,
        skip_serializing_if = "is_zero_f32",
        serialize_with = "ser_f32",
        deserialize_with = "cast::f32"
    )]
    pub cpus: f32,
    /// Memory in bytes.
    #[serde(default, skip_serializing_if = "UnitBytes::is_zero")]
    pub memory: UnitBytes,
    /// Maximum number of processes.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "cast::i64"
    )]
    pub pids: i64,
    /// Device requests (GPUs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceRequest>,
    /// Swarm generic resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generic_resources: Vec<GenericResource>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// A swarm generic resource.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GenericResource {
    /// Kind and count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discrete_resource_spec: Option<DiscreteGenericResource>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// A counted generic resource.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DiscreteGenericResource {
    /// Resource kind (`GPU`, `SSD`, …).
    #[serde(default, deserialize_with = "cast::string")]
    pub kind: String,
    /// How many.
    #[serde(default, deserialize_with = "cast::i64")]
    pub value: i64,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// A device request (`gpus`, `deploy.resources.reservations.devices`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeviceRequest {
    /// Required capabilities (`gpu`, …).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub capabilities: Vec<String>,
    /// Device driver.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub driver: String,
    /// Number of devices; -1 means all.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "device_count"
    )]
    pub count: i64,
    /// Specific device IDs.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub device_ids: Vec<String>,
    /// Driver options.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub options: BTreeMap<String, String>,
}

fn device_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    use serde::de::Error as _;
    let v = Value::deserialize(d)?;
    if let Value::String(s) = &v {
        if s.eq_ignore_ascii_case("all") {
            return Ok(-1);
        }
    }
    cast::value_to_i64(&v).map_err(|_| {
        D::Error::custom(format!(
            "invalid value {:?}, the only value allowed is 'all' or a number",
            cast::value_to_string(&v).unwrap_or_default()
        ))
    })
}

/// The restart policy of `deploy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// `none`, `on-failure` or `any`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub condition: String,
    /// Wait between restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// Give up after this many attempts.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cast::opt_u64"
    )]
    pub max_attempts: Option<u64>,
    /// Window to decide whether a restart succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// Swarm placement.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Placement {
    /// Node constraints.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub constraints: Vec<String>,
    /// Spread preferences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<PlacementPreference>,
    /// Replicas per node.
    #[serde(
        default,
        skip_serializing_if = "is_zero_u64",
        deserialize_with = "cast::u64"
    )]
    pub max_replicas_per_node: u64,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

impl IsEmpty for Placement {
    fn is_empty(&self) -> bool {
        self.constraints.is_empty()
            && self.preferences.is_empty()
            && self.max_replicas_per_node == 0
            && self.extensions.is_empty()
    }
}

/// A spread preference.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlacementPreference {
    /// Label to spread over.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub spread: String,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}
