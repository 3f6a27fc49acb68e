//! Networks: top-level definitions and a service's attachment to one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::compose::model::cast;
use crate::compose::model::ser::{
    is_false, is_zero_i32, skip_empty_struct, skip_extensions, IsEmpty,
};

/// A top-level network.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// Engine-side name (`<project>_<key>` unless set or external).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub name: String,
    /// Network driver (`bridge` when empty).
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
    /// Address management.
    #[serde(default, skip_serializing_if = "skip_empty_struct")]
    pub ipam: IpamConfig,
    /// Managed outside this project.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub external: bool,
    /// No outside connectivity.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub internal: bool,
    /// Standalone containers may attach (swarm).
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub attachable: bool,
    /// Labels on the network.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub labels: BTreeMap<String, String>,
    /// IPv4 on or off.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cast::opt_bool"
    )]
    pub enable_ipv4: Option<bool>,
    /// IPv6 on or off.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cast::opt_bool"
    )]
    pub enable_ipv6: Option<bool>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// IP address management of a network.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IpamConfig {
    /// IPAM driver.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub driver: String,
    /// Address pools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<IpamPool>,
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

impl IsEmpty for IpamConfig {
    fn is_empty(&self) -> bool {
        self.driver.is_empty()
            && self.config.is_empty()
            && self.options.is_empty()
            && self.extensions.is_empty()
    }
}

/// One address pool.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IpamPool {
    /// CIDR subnet.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub subnet: String,
    /// Gateway address.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub gateway: String,
    /// Range to allocate from.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub ip_range: String,
    /// Reserved addresses by name.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub aux_addresses: BTreeMap<String, String>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// A service's attachment to a network (`null` in the file means defaults).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceNetworkConfig {
    /// Extra DNS names on this network.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub aliases: Vec<String>,
    /// Endpoint driver options.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub driver_opts: BTreeMap<String, String>,
    /// Gateway priority.
    #[serde(
        default,
        rename = "gw_priority",
        skip_serializing_if = "is_zero_i32",
        deserialize_with = "cast::i32"
    )]
    pub gw_priority: i32,
    /// Interface name inside the container.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub interface_name: String,
    /// Static IPv4 address.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub ipv4_address: String,
    /// Static IPv6 address.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub ipv6_address: String,
    /// Link-local addresses.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "cast::strings"
    )]
    pub link_local_ips: Vec<String>,
    /// Static MAC address.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub mac_address: String,
    /// Connection order (higher first).
    #[serde(
        default,
        skip_serializing_if = "is_zero_i32",
        deserialize_with = "cast::i32"
    )]
    pub priority: i32,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}
