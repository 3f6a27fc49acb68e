//! `healthcheck`: how the supervisor probes a container.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::compose::model::cast;
use crate::compose::model::duration::Duration;
use crate::compose::model::ser::{is_false, skip_extensions};

/// The healthcheck section; a string `test` is already `["CMD-SHELL", s]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HealthCheckConfig {
    /// `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", "…"]`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub test: Vec<String>,
    /// Time one probe may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Time between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Failures before unhealthy.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cast::opt_u64"
    )]
    pub retries: Option<u64>,
    /// Grace period after start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    /// Time between probes during the start period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    /// Disable the image's healthcheck.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub disable: bool,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}
