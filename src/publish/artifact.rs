//! A compose project as an OCI artifact, with docker compose's media types,
//! annotations and manifest layout (`internal/oci/push.go`), pushed with
//! berth's registry client; and the reverse, an artifact pulled into a local
//! directory the loader reads (`pkg/remote/oci.go`).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::image::registry::{Client, RegistryError};
use crate::image::{Digest, Reference};

/// The artifact type of a compose project manifest (OCI 1.1).
pub const PROJECT_ARTIFACT_TYPE: &str = "application/vnd.docker.compose.project";
/// The media type of each compose file layer.
pub const COMPOSE_YAML: &str = "application/vnd.docker.compose.file+yaml";
/// The config media type of an OCI 1.0 push (`{}`), which 1.0 clients fall back on.
pub const EMPTY_CONFIG_V1_0: &str = "application/vnd.docker.compose.config.empty.v1+json";
/// The media type of each env file layer.
pub const ENV_FILE: &str = "application/vnd.docker.compose.envfile";
/// OCI's empty descriptor media type (the config of an OCI 1.1 artifact).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The version written in `com.docker.compose.version` annotations.
pub const COMPOSE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Errors publishing or fetching an artifact.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The registry refused or failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// What the registry served is not a compose artifact, or is malformed.
    #[error("{0}")]
    Invalid(String),
    /// Writing the local copy failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// One blob of the artifact, with its descriptor.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Media type.
    pub media_type: &'static str,
    /// Content.
    pub data: Vec<u8>,
    /// Annotations (sorted, as Go marshals maps).
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl Layer {
    /// A compose file layer named `name` (the base name is what is annotated).
    pub fn compose_file(name: &str, data: Vec<u8>) -> Layer {
        Layer::new(COMPOSE_YAML, "com.docker.compose.file", name, data)
    }

    /// An env file layer named `name`.
    pub fn env_file(name: &str, data: Vec<u8>) -> Layer {
        Layer::new(ENV_FILE, "com.docker.compose.envfile", name, data)
    }

    fn new(media_type: &'static str, key: &str, name: &str, data: Vec<u8>) -> Layer {
        let base = Path::new(name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string());
        let mut annotations = std::collections::BTreeMap::new();
        annotations.insert("com.docker.compose.version".into(), COMPOSE_VERSION.into());
        annotations.insert(key.to_string(), base);
        Layer {
            media_type,
            data,
            annotations,
        }
    }

    /// Its digest.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.data)
    }

    /// Its descriptor, `data` embedded as docker compose's are.
    pub fn descriptor(&self) -> Value {
        let mut d = Map::new();
        d.insert("mediaType".into(), self.media_type.into());
        d.insert("digest".into(), self.digest().to_string().into());
        d.insert("size".into(), self.data.len().into());
        if !self.annotations.is_empty() {
            d.insert("annotations".into(), json!(self.annotations));
        }
        d.insert(
            "data".into(),
            base64::engine::general_purpose::STANDARD
                .encode(&self.data)
                .into(),
        );
        Value::Object(d)
    }
}

/// Which OCI layout to push (`--oci-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OciVersion {
    /// 1.0: a compose-specific config media type, no artifact type.
    V1_0,
    /// 1.1: the empty config and `artifactType`.
    V1_1,
}

impl OciVersion {
    /// Parses `1.0` or `1.1`.
    pub fn parse(s: &str) -> Result<OciVersion, String> {
        match s {
            "1.0" => Ok(OciVersion::V1_0),
            "1.1" => Ok(OciVersion::V1_1),
            other => Err(format!("unsupported OCI version: {other}")),
        }
    }
}

/// The manifest of an artifact made of `layers`, and its config blob.
pub fn manifest(layers: &[Layer], version: OciVersion, created: &str) -> (Vec<u8>, Layer) {
    let config = Layer {
        media_type: match version {
            OciVersion::V1_0 => EMPTY_CONFIG_V1_0,
            OciVersion::V1_1 => OCI_EMPTY,
        },
        data: b"{}".to_vec(),
        annotations: Default::default(),
    };
    let mut m = Map::new();
    m.insert("schemaVersion".into(), 2.into());
    m.insert("mediaType".into(), OCI_MANIFEST.into());
    if version == OciVersion::V1_1 {
        m.insert("artifactType".into(), PROJECT_ARTIFACT_TYPE.into());
    }
    m.insert("config".into(), config.descriptor());
    m.insert(
        "layers".into(),
        Value::Array(layers.iter().map(Layer::descriptor).collect()),
    );
    m.insert(
        "annotations".into(),
        json!({ "org.opencontainers.image.created": created }),
    );
    let bytes = serde_json::to_vec(&Value::Object(m)).expect("a JSON value serializes");
    (bytes, config)
}

/// Pushes the artifact under `target`'s tag: the blobs, then the manifest.
/// Without an explicit version, OCI 1.1 is tried first and 1.0 used when the
/// registry refuses it with a client error other than an authentication one.
pub fn push(
    client: &Client,
    target: &Reference,
    layers: &[Layer],
    version: Option<OciVersion>,
    created: &str,
) -> Result<Digest, ArtifactError> {
    let tag = target.tag.clone().unwrap_or_else(|| "latest".into());
    for layer in layers {
        client.push_blob_bytes(target, &layer.digest(), &layer.data)?;
    }
    let push_as = |v: OciVersion| -> Result<Digest, RegistryError> {
        let (bytes, config) = manifest(layers, v, created);
        client.push_blob_bytes(target, &config.digest(), &config.data)?;
        client.put_manifest(target, &tag, &bytes, OCI_MANIFEST)
    };
    match version {
        Some(v) => Ok(push_as(v)?),
        None => match push_as(OciVersion::V1_1) {
            Err(RegistryError::Status { status, .. })
                if (400..500).contains(&status) && ![401, 403, 407].contains(&status) =>
            {
                Ok(push_as(OciVersion::V1_0)?)
            }
            other => Ok(other?),
        },
    }
}

/// Pulls the compose artifact `reference` into `cache/<manifest digest>/`
/// (kept: a second load reads it from there) and returns that directory, with
/// the compose files concatenated as documents of one `compose.yaml`.
pub fn pull(
    client: &Client,
    reference: &Reference,
    cache: &Path,
) -> Result<PathBuf, ArtifactError> {
    let invalid = |m: String| ArtifactError::Invalid(m);
    let fetched = client.get_manifest(reference, &reference.locator())?;
    let mut doc: Value = serde_json::from_slice(&fetched.bytes)
        .map_err(|e| invalid(format!("{reference}: bad manifest: {e}")))?;
    let local = cache.join(fetched.digest.hex());
    if local.join("compose.yaml").is_file() {
        return Ok(local);
    }
    // A published application is an index naming the compose manifest.
    if doc["mediaType"] == OCI_INDEX || doc["manifests"].is_array() {
        let m = doc["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["artifactType"] == PROJECT_ARTIFACT_TYPE)
            .ok_or_else(|| {
                invalid(format!(
                    "OCI index {reference} doesn't refer to compose artifacts"
                ))
            })?;
        let digest = m["digest"].as_str().unwrap_or_default().to_string();
        let inner = client.get_manifest(reference, &digest)?;
        doc = serde_json::from_slice(&inner.bytes)
            .map_err(|e| invalid(format!("{reference}: bad manifest: {e}")))?;
    }
    let artifact_type = doc["artifactType"].as_str().unwrap_or("");
    let config_type = doc["config"]["mediaType"].as_str().unwrap_or("");
    if (!artifact_type.is_empty() && artifact_type != PROJECT_ARTIFACT_TYPE)
        || (artifact_type.is_empty() && config_type != EMPTY_CONFIG_V1_0)
    {
        return Err(invalid(format!(
            "{reference} is not a compose project OCI artifact, but {artifact_type}"
        )));
    }
    let partial = cache.join(format!("{}.partial", fetched.digest.hex()));
    let _ = std::fs::remove_dir_all(&partial);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArtifactError::Io { path, source }
    };
    std::fs::create_dir_all(&partial).map_err(io(&partial))?;
    let res = write_layers(client, reference, &doc, &partial);
    if let Err(e) = res {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(&local);
    std::fs::rename(&partial, &local).map_err(io(&local))?;
    Ok(local)
}

/// A name an artifact may give one of its files: a plain file name, nothing
/// that could step out of the directory.
fn safe_name(name: &str) -> Result<&str, ArtifactError> {
    if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(ArtifactError::Invalid("invalid OCI artifact".into()));
    }
    Ok(name)
}

fn write_layers(
    client: &Client,
    reference: &Reference,
    manifest: &Value,
    dir: &Path,
) -> Result<(), ArtifactError> {
    use std::io::{Read, Write};
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    let mut compose = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let digest: Digest = layer["digest"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(|e| ArtifactError::Invalid(format!("layer {i}: {e}")))?;
        let size = layer["size"].as_u64().unwrap_or(0);
        let mut data = Vec::new();
        client
            .get_blob(reference, &digest)?
            .take(size + 1)
            .read_to_end(&mut data)
            .map_err(|source| ArtifactError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        if data.len() as u64 != size {
            return Err(ArtifactError::Invalid(format!(
                "blob {digest} size mismatch: expected {size} bytes, got {}",
                data.len()
            )));
        }
        if Digest::of(&data) != digest {
            return Err(ArtifactError::Invalid(format!(
                "blob digest mismatch: expected {digest}, got {}",
                Digest::of(&data)
            )));
        }
        let annotations = &layer["annotations"];
        let write = |name: &str, data: &[u8], append: bool| -> Result<(), ArtifactError> {
            let path = dir.join(safe_name(name)?);
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(append)
                .write(true)
                .truncate(!append)
                .open(&path)
                .map_err(|source| ArtifactError::Io {
                    path: path.clone(),
                    source,
                })?;
            f.write_all(data)
                .map_err(|source| ArtifactError::Io { path, source })
        };
        match layer["mediaType"].as_str().unwrap_or("") {
            COMPOSE_YAML if annotations.get("com.docker.compose.extends").is_some() => {
                let name = annotations["com.docker.compose.file"]
                    .as_str()
                    .unwrap_or("");
                write(name, &data, false)?;
            }
            COMPOSE_YAML => {
                // Every compose file becomes one document of compose.yaml.
                if i > 0 && annotations.get("com.docker.compose.file").is_some() {
                    compose.extend_from_slice(b"\n---\n");
                }
                compose.extend_from_slice(&data);
            }
            ENV_FILE => {
                let name = annotations["com.docker.compose.envfile"]
                    .as_str()
                    .ok_or_else(|| {
                        ArtifactError::Invalid(format!(
                            "missing annotation com.docker.compose.envfile in layer {digest:?}"
                        ))
                    })?;
                write(name, &data, false)?;
            }
            _ => {}
        }
    }
    let path = dir.join("compose.yaml");
    std::fs::write(&path, &compose).map_err(|source| ArtifactError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_has_docker_composes_layout() {
        let layers = vec![
            Layer::compose_file("/p/compose.yaml", b"services: {}\n".to_vec()),
            Layer::env_file("abc.env", b"A=1\n".to_vec()),
        ];
        let (bytes, config) = manifest(&layers, OciVersion::V1_1, "2026-01-01T00:00:00Z");
        assert_eq!(config.data, b"{}");
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.docker.compose.project","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},"layers":[{"mediaType":"application/vnd.docker.compose.file+yaml","#), "{text}");
        assert!(text.contains(r#""annotations":{"com.docker.compose.file":"compose.yaml","com.docker.compose.version":"#), "{text}");
        assert!(
            text.contains(r#""annotations":{"com.docker.compose.envfile":"abc.env","#),
            "{text}"
        );
        assert!(
            text.ends_with(
                r#""annotations":{"org.opencontainers.image.created":"2026-01-01T00:00:00Z"}}"#
            ),
            "{text}"
        );
        let (bytes, config) = manifest(&layers, OciVersion::V1_0, "t");
        assert_eq!(config.media_type, EMPTY_CONFIG_V1_0);
        assert!(!String::from_utf8(bytes).unwrap().contains("artifactType"));
    }

    #[test]
    fn artifact_file_names_stay_in_their_directory() {
        assert!(safe_name("../x").is_err());
        assert!(safe_name("a/b").is_err());
        assert!(safe_name("..").is_err());
        assert!(safe_name("abc.env").is_ok());
    }
}
