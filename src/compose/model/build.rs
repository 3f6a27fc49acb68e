//! `build`: how to build a service's image.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};
use serde_yaml_ng::Value;

use crate::compose::model::bytes::UnitBytes;
use crate::compose::model::cast;
use crate::compose::model::file_object::FileReferenceConfig;
use crate::compose::model::ser::{is_false, skip_extensions};
use crate::compose::model::service::{ser_hosts, Ulimit};

/// The build section, long syntax.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BuildConfig {
    /// Build context: directory or URL.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub context: String,
    /// Dockerfile path relative to the context.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub dockerfile: String,
    /// Dockerfile content given inline.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub dockerfile_inline: String,
    /// Extra privileges the build may use.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub entitlements: Vec<String>,
    /// Build arguments (`None` means "take from the environment").
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::opt_string_map"
    )]
    pub args: BTreeMap<String, Option<String>>,
    /// Provenance attestation setting.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub provenance: String,
    /// SBOM attestation setting.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub sbom: String,
    /// SSH agent sockets or keys (`id` → path, empty path for the default agent).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "ser_ssh",
        deserialize_with = "cast::string_map"
    )]
    pub ssh: BTreeMap<String, String>,
    /// Labels of the built image.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub labels: BTreeMap<String, String>,
    /// Cache sources.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub cache_from: Vec<String>,
    /// Cache exports.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub cache_to: Vec<String>,
    /// Build without cache.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub no_cache: bool,
    /// Stages to build without cache.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub no_cache_filter: Vec<String>,
    /// Named extra contexts.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub additional_contexts: BTreeMap<String, String>,
    /// Always pull base images.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub pull: bool,
    /// Extra `/etc/hosts` entries during the build.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "ser_hosts"
    )]
    pub extra_hosts: BTreeMap<String, Vec<String>>,
    /// Windows isolation technology.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub isolation: String,
    /// Network for RUN instructions.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub network: String,
    /// Stage to build.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub target: String,
    /// Secrets exposed to the build.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileReferenceConfig>,
    /// `/dev/shm` size for build containers.
    #[serde(default, skip_serializing_if = "UnitBytes::is_zero")]
    pub shm_size: UnitBytes,
    /// Extra image tags.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub tags: Vec<String>,
    /// Ulimits of build containers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    /// Target platforms.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub platforms: Vec<String>,
    /// Privileged build.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub privileged: bool,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

fn ser_ssh<S: Serializer>(m: &BTreeMap<String, String>, s: S) -> Result<S::Ok, S::Error> {
    let list: Vec<String> = m
        .iter()
        .map(|(id, path)| {
            if path.is_empty() {
                id.clone()
            } else {
                format!("{id}: {path}")
            }
        })
        .collect();
    list.serialize(s)
}
