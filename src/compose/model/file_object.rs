//! Top-level volumes, secrets and configs, and a service's reference to a
//! secret or config.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_yaml_ng::Value;

use crate::compose::model::cast;
use crate::compose::model::ser::{is_false, skip_extensions};

/// A top-level volume.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VolumeConfig {
    /// Engine-side name (`<project>_<key>` unless set or external).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub name: String,
    /// Volume driver (`local` when empty).
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
    pub driver_opts: BTreeMap<String, String>,
    /// Managed outside this project.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub external: bool,
    /// Labels on the volume.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub labels: BTreeMap<String, String>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// A top-level secret or config.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FileObjectConfig {
    /// Engine-side name.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub name: String,
    /// Host file holding the content.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub file: String,
    /// Environment variable holding the content.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub environment: String,
    /// Inline content (configs only).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub content: String,
    /// Managed outside this project.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub external: bool,
    /// Labels.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub labels: BTreeMap<String, String>,
    /// Driver (swarm).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub driver: String,
    /// Driver options (swarm).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub driver_opts: BTreeMap<String, String>,
    /// Template driver (swarm).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub template_driver: String,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// A service's use of a secret or config.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FileReferenceConfig {
    /// Key of the top-level secret or config.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub source: String,
    /// Path inside the container.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub target: String,
    /// Owner uid.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub uid: String,
    /// Owner gid.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub gid: String,
    /// File mode, printed in octal (`"0444"`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_mode",
        deserialize_with = "de_mode"
    )]
    pub mode: Option<i64>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

fn ser_mode<S: Serializer>(m: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_str(&format!("0{m:o}")),
        None => s.serialize_none(),
    }
}

fn de_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("invalid mode {n}"))),
        Value::String(s) => i64::from_str_radix(s.trim_start_matches("0o"), 8)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("invalid mode {s:?}: expected an octal number"))),
        other => Err(D::Error::custom(format!(
            "expected a file mode, found {}",
            cast::kind(&other)
        ))),
    }
}
