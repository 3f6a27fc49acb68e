//! Service volumes (mounts): long form and the short-syntax parser
//! (compose-go `format/volume.go`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::compose::model::bytes::UnitBytes;
use crate::compose::model::cast;
use crate::compose::model::ser::{is_false, is_zero_u32, skip_extensions, IsEmpty};

/// One mount of a service, in long syntax.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceVolumeConfig {
    /// `volume`, `bind`, `tmpfs`, `image`, `npipe` or `cluster`.
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub kind: String,
    /// Volume name, host path or image.
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
    /// Mount read-only.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub read_only: bool,
    /// macOS consistency hint (ignored on Linux).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub consistency: String,
    /// Bind options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<ServiceVolumeBind>,
    /// Volume options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<ServiceVolumeVolume>,
    /// tmpfs options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<ServiceVolumeTmpfs>,
    /// Image mount options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ServiceVolumeImage>,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

fn default_true() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Options of a bind mount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceVolumeBind {
    /// `z` or `Z`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub selinux: String,
    /// Mount propagation (`rprivate`, `shared`, …).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub propagation: String,
    /// Create the host path when missing; an opt-out bool (default true, printed only when false).
    #[serde(
        default = "default_true",
        skip_serializing_if = "is_true",
        deserialize_with = "cast::bool"
    )]
    pub create_host_path: bool,
    /// Recursive read-only mode.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub recursive: String,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

impl Default for ServiceVolumeBind {
    fn default() -> Self {
        ServiceVolumeBind {
            selinux: String::new(),
            propagation: String::new(),
            create_host_path: true,
            recursive: String::new(),
            extensions: BTreeMap::new(),
        }
    }
}

/// Options of a named or anonymous volume mount.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceVolumeVolume {
    /// Labels for a volume created on the fly.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "cast::string_map"
    )]
    pub labels: BTreeMap<String, String>,
    /// Do not copy image data into a new volume.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "cast::bool"
    )]
    pub nocopy: bool,
    /// Mount only this path of the volume.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub subpath: String,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// Options of a tmpfs mount.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceVolumeTmpfs {
    /// Size limit.
    #[serde(default, skip_serializing_if = "UnitBytes::is_zero")]
    pub size: UnitBytes,
    /// File mode of the mount point.
    #[serde(
        default,
        skip_serializing_if = "is_zero_u32",
        deserialize_with = "cast::u32"
    )]
    pub mode: u32,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

/// Options of an image mount.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceVolumeImage {
    /// Mount only this path of the image.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub subpath: String,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

impl IsEmpty for ServiceVolumeBind {
    fn is_empty(&self) -> bool {
        self.selinux.is_empty() && self.propagation.is_empty() && self.recursive.is_empty()
    }
}

fn is_windows_drive(buf: &str, c: char) -> bool {
    c == ':' && buf.len() == 1 && buf.chars().all(|b| b.is_ascii_alphabetic())
}

/// True for sources compose treats as host paths (bind mounts).
pub fn is_file_path(source: &str) -> bool {
    let mut chars = source.chars();
    match chars.next() {
        None => false,
        Some('.' | '/' | '~') => true,
        Some(first) => {
            source.starts_with("\\\\") || (first.is_ascii_alphabetic() && chars.next() == Some(':'))
        }
    }
}

fn bind_option(o: &str) -> bool {
    matches!(
        o,
        "z" | "Z" | "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave"
    )
}

/// Parses `[source:]target[:options]`.
pub fn parse_volume_spec(spec: &str) -> Result<ServiceVolumeConfig, String> {
    let mut v = ServiceVolumeConfig::default();
    match spec.chars().count() {
        0 => return Err("invalid empty volume spec".into()),
        1 | 2 => {
            v.target = spec.to_string();
            v.kind = "volume".into();
            return Ok(v);
        }
        _ => {}
    }
    let mut fields: Vec<String> = Vec::new();
    let mut buf = String::new();
    // `${VAR:-/default}` left by --no-interpolate must not be split at its colon.
    let mut in_var = 0usize;
    let chars: Vec<char> = spec.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '$' && chars.get(i + 1) == Some(&'{') {
            in_var += 1;
            buf.push(c);
        } else if c == '}' && in_var > 0 {
            in_var -= 1;
            buf.push(c);
        } else if is_windows_drive(&buf, c) {
            buf.push(c);
        } else if c == ':' && in_var == 0 {
            fields.push(std::mem::take(&mut buf));
        } else {
            buf.push(c);
        }
    }
    fields.push(buf);
    if fields.iter().any(|f| f.is_empty()) {
        return Err(format!(
            "invalid spec: {spec}: empty section between colons"
        ));
    }
    match fields.len() {
        1 => v.target = fields.remove(0),
        2 | 3 => {
            v.source = fields[0].clone();
            v.target = fields[1].clone();
            if let Some(opts) = fields.get(2) {
                for o in opts.split(',') {
                    match o {
                        "ro" => v.read_only = true,
                        "rw" => v.read_only = false,
                        "nocopy" => {
                            v.volume = Some(ServiceVolumeVolume {
                                nocopy: true,
                                ..Default::default()
                            })
                        }
                        o if bind_option(o) => {
                            let b = v.bind.get_or_insert_with(|| ServiceVolumeBind {
                                create_host_path: false,
                                ..Default::default()
                            });
                            if o == "z" || o == "Z" {
                                b.selinux = o.into();
                            } else {
                                b.propagation = o.into();
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        _ => return Err(format!("invalid spec: {spec}: too many colons")),
    }
    if is_file_path(&v.source) {
        v.kind = "bind".into();
        // docker-compose v1 compatibility: short binds create missing host paths.
        v.bind
            .get_or_insert_with(ServiceVolumeBind::default)
            .create_host_path = true;
    } else {
        v.kind = "volume".into();
        v.volume.get_or_insert_with(ServiceVolumeVolume::default);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        let v = parse_volume_spec("/data").unwrap();
        assert_eq!(
            (v.kind.as_str(), v.source.as_str(), v.target.as_str()),
            ("volume", "", "/data")
        );
        assert!(v.volume.is_some());
        let v = parse_volume_spec("data:/var/lib/data:ro").unwrap();
        assert_eq!((v.kind.as_str(), v.source.as_str()), ("volume", "data"));
        assert!(v.read_only);
        let v = parse_volume_spec("./src:/app:rw,z,rshared").unwrap();
        assert_eq!(v.kind, "bind");
        let b = v.bind.unwrap();
        assert!(b.create_host_path);
        assert_eq!(
            (b.selinux.as_str(), b.propagation.as_str()),
            ("z", "rshared")
        );
        let v = parse_volume_spec("~/x:/x").unwrap();
        assert_eq!(v.kind, "bind");
        let v = parse_volume_spec("C:\\dir:/x").unwrap();
        assert_eq!(v.source, "C:\\dir");
        let v = parse_volume_spec("vol:/x:nocopy").unwrap();
        assert!(v.volume.unwrap().nocopy);
        let v = parse_volume_spec("${SOURCE:-/dev/null}:/tmp/foo:ro").unwrap();
        assert_eq!(
            (v.source.as_str(), v.target.as_str()),
            ("${SOURCE:-/dev/null}", "/tmp/foo")
        );
        assert!(v.read_only);
    }

    #[test]
    fn errors() {
        assert!(parse_volume_spec("").is_err());
        assert!(parse_volume_spec("ab::c").is_err());
        assert!(parse_volume_spec("ab:cd:ef:gh").is_err());
    }
}
