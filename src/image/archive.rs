//! Image archives: `docker load` input (docker save tarballs and OCI image layouts,
//! as a directory or a tar, plain, gzip or zstd), `docker save` output, and
//! `docker import` of a root filesystem tarball as a one-layer image.

use super::digest::Digest;
use super::oci::{
    self, AnyManifest, Compression, Descriptor, ImageConfigFile, Manifest, Platform, RootFs,
};
use super::reference::Reference;
use super::store::{now_unix, ImageRecord, Store, StoreError, StoredImage};
use super::unpack;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::path::Path;

/// Errors loading, saving or importing archives.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing the archive failed.
    #[error("{0}: {1}")]
    Io(String, #[source] io::Error),
    /// The archive is neither a docker save tarball nor an OCI layout.
    #[error("not an image archive: no manifest.json or index.json")]
    NotAnArchive,
    /// A file the archive's manifest names is missing.
    #[error("archive is missing {0}")]
    Missing(String),
    /// A JSON document in the archive did not parse.
    #[error("malformed {0}: {1}")]
    Json(String, #[source] serde_json::Error),
    /// A manifest in the archive is unusable.
    #[error(transparent)]
    Manifest(#[from] oci::ManifestError),
    /// An index in the archive has nothing for this platform.
    #[error("no image for platform {0} in the archive's index")]
    NoPlatform(String),
    /// A tag in the archive is not a valid reference.
    #[error(transparent)]
    Reference(#[from] super::reference::ReferenceError),
}

type Result<T> = std::result::Result<T, ArchiveError>;

/// One image an archive held.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// The manifest digest.
    pub digest: Digest,
    /// The config digest (image id).
    pub id: Digest,
    /// References it was tagged with (empty: untagged, listed as `<none>`).
    pub tags: Vec<Reference>,
}

/// Archive members by normalized name: stored blob and size, or a symlink target.
#[derive(Default)]
struct Members {
    files: HashMap<String, (Digest, u64)>,
    links: HashMap<String, String>,
}

fn normalize(name: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

impl Members {
    fn get(&self, name: &str) -> Option<&(Digest, u64)> {
        let mut n = normalize(name);
        for _ in 0..16 {
            if let Some(f) = self.files.get(&n) {
                return Some(f);
            }
            let target = self.links.get(&n)?;
            let dir = n.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            n = if target.starts_with('/') {
                normalize(target)
            } else {
                normalize(&format!("{dir}/{target}"))
            };
        }
        None
    }
}

/// Ingests every file of a tar stream into the store.
fn read_tar(store: &Store, r: impl Read) -> Result<Members> {
    let plain = unpack::decompress(r).map_err(|e| ArchiveError::Io("archive".into(), e))?;
    let mut ar = tar::Archive::new(plain);
    let mut m = Members::default();
    let io_err = |e| ArchiveError::Io("archive".into(), e);
    for e in ar.entries().map_err(io_err)? {
        let mut e = e.map_err(io_err)?;
        let name = normalize(&String::from_utf8_lossy(&e.path_bytes()));
        match e.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let got = store.ingest_reader(&mut e, None, None)?;
                m.files.insert(name, got);
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                if let Some(t) = e.link_name_bytes() {
                    let t = String::from_utf8_lossy(&t).into_owned();
                    // Hard link targets are archive-root relative; symlinks are relative to their dir.
                    let t = if e.header().entry_type() == tar::EntryType::Link {
                        format!("/{t}")
                    } else {
                        t
                    };
                    m.links.insert(name, t);
                }
            }
            _ => {}
        }
    }
    Ok(m)
}

/// Ingests every file under an OCI layout (or extracted docker save) directory.
fn read_dir(store: &Store, dir: &Path) -> Result<Members> {
    let mut m = Members::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| ArchiveError::Io(d.display().to_string(), e))?;
        for e in rd {
            let e = e.map_err(|e| ArchiveError::Io(d.display().to_string(), e))?;
            let p = e.path();
            let meta =
                std::fs::metadata(&p).map_err(|e| ArchiveError::Io(p.display().to_string(), e))?;
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                let mut f = std::fs::File::open(&p)
                    .map_err(|e| ArchiveError::Io(p.display().to_string(), e))?;
                let got = store.ingest_reader(&mut f, None, None)?;
                m.files.insert(normalize(&rel), got);
            }
        }
    }
    Ok(m)
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SaveManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn json<T: serde::de::DeserializeOwned>(store: &Store, what: &str, d: &Digest) -> Result<T> {
    serde_json::from_slice(&store.read_blob(d)?).map_err(|e| ArchiveError::Json(what.into(), e))
}

fn tag_all(store: &Store, digest: &Digest, tags: &[Reference]) -> Result<()> {
    let now = now_unix();
    if tags.is_empty() {
        // Untagged images are kept under their digest so nothing collects them.
        store.put_record(ImageRecord {
            name: digest.to_string(),
            digest: digest.clone(),
            index_digest: None,
            repo_digest: None,
            updated_at: now,
        })?;
    }
    for t in tags {
        store.put_record(ImageRecord {
            name: t.to_string(),
            digest: digest.clone(),
            index_digest: None,
            repo_digest: None,
            updated_at: now,
        })?;
    }
    Ok(())
}

fn unpack_manifest(store: &Store, digest: &Digest) -> Result<Digest> {
    let (manifest, config) = store.load_manifest(digest)?;
    let img = StoredImage {
        records: vec![],
        digest: digest.clone(),
        config_digest: manifest.config.digest.clone(),
        manifest,
        config,
    };
    store.ensure_unpacked(&img)?;
    Ok(img.config_digest)
}

/// Loads a `docker save` tarball or an OCI layout (directory or tar, any compression).
/// OCI images whose index gives only a tag (as `skopeo copy … oci:dir:tag` writes)
/// are tagged in `default_repo` when given.
pub fn load(
    store: &Store,
    path: &Path,
    default_repo: Option<&Reference>,
) -> Result<Vec<LoadedImage>> {
    let _using = store.use_lock()?;
    let members = if path.is_dir() {
        read_dir(store, path)?
    } else {
        let f = std::fs::File::open(path)
            .map_err(|e| ArchiveError::Io(path.display().to_string(), e))?;
        read_tar(store, io::BufReader::with_capacity(256 * 1024, f))?
    };
    load_members(store, &members, default_repo)
}

/// Loads an archive from a stream (for `berth image load` reading stdin).
pub fn load_reader(
    store: &Store,
    r: impl Read,
    default_repo: Option<&Reference>,
) -> Result<Vec<LoadedImage>> {
    let _using = store.use_lock()?;
    let members = read_tar(store, r)?;
    load_members(store, &members, default_repo)
}

fn load_members(
    store: &Store,
    m: &Members,
    default_repo: Option<&Reference>,
) -> Result<Vec<LoadedImage>> {
    if let Some((d, _)) = m.get("manifest.json") {
        let entries: Vec<SaveManifestEntry> = json(store, "manifest.json", d)?;
        let mut out = Vec::new();
        for e in entries {
            let (cfg_digest, cfg_size) = m
                .get(&e.config)
                .ok_or_else(|| ArchiveError::Missing(e.config.clone()))?
                .clone();
            let mut layers = Vec::new();
            for l in &e.layers {
                let (ld, ls) = m
                    .get(l)
                    .ok_or_else(|| ArchiveError::Missing(l.clone()))?
                    .clone();
                let mut head = [0u8; 8];
                let n = store
                    .open_blob(&ld)?
                    .read(&mut head)
                    .map_err(|e| ArchiveError::Io(l.clone(), e))?;
                let media_type = Compression::sniff(&head[..n]).oci_layer_type().to_string();
                layers.push(Descriptor {
                    media_type,
                    digest: ld,
                    size: ls,
                    platform: None,
                    annotations: None,
                    urls: None,
                });
            }
            let manifest = Manifest {
                schema_version: 2,
                media_type: Some(oci::OCI_MANIFEST.into()),
                config: Descriptor {
                    media_type: oci::OCI_CONFIG.into(),
                    digest: cfg_digest.clone(),
                    size: cfg_size,
                    platform: None,
                    annotations: None,
                    urls: None,
                },
                layers,
                annotations: None,
            };
            let digest =
                store.write_blob(&serde_json::to_vec(&manifest).expect("manifest serializes"))?;
            let id = unpack_manifest(store, &digest)?;
            let tags = e
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| Reference::parse(t))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            tag_all(store, &digest, &tags)?;
            out.push(LoadedImage { digest, id, tags });
        }
        return Ok(out);
    }
    let Some((idx_digest, _)) = m.get("index.json") else {
        return Err(ArchiveError::NotAnArchive);
    };
    let index: oci::Index = json(store, "index.json", idx_digest)?;
    let platform = Platform::host();
    let mut out = Vec::new();
    for d in &index.manifests {
        let ann = d.annotations.clone().unwrap_or_default();
        let mut tags = Vec::new();
        if let Some(n) = ann.get("io.containerd.image.name") {
            tags.push(Reference::parse(n)?);
        } else if let Some(n) = ann.get("org.opencontainers.image.ref.name") {
            // A full reference, or just a tag (skopeo's oci:dir:tag).
            if n.contains('/') || n.contains(':') {
                tags.push(Reference::parse(n)?);
            } else if let Some(repo) = default_repo {
                tags.push(repo.with_tag(n));
            }
        } else if let Some(repo) = default_repo {
            tags.push(repo.clone());
        }
        let bytes = store.read_blob(&d.digest)?;
        let digest = match oci::parse_any(Some(&d.media_type), &bytes)? {
            AnyManifest::Manifest(_) => d.digest.clone(),
            AnyManifest::Index(i) => i
                .select(&platform)
                .ok_or_else(|| ArchiveError::NoPlatform(platform.to_string()))?
                .digest
                .clone(),
        };
        let id = unpack_manifest(store, &digest)?;
        tag_all(store, &digest, &tags)?;
        out.push(LoadedImage { digest, id, tags });
    }
    Ok(out)
}

fn append(b: &mut tar::Builder<impl Write>, name: &str, size: u64, r: impl Read) -> io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, r)
}

/// Writes images as a `docker save` tarball that is also an OCI image layout
/// (what docker 25+ writes), so both `docker load` and OCI tools read it.
pub fn save(store: &Store, images: &[(StoredImage, Vec<Reference>)], w: impl Write) -> Result<()> {
    let io_err = |e| ArchiveError::Io("archive".into(), e);
    let mut b = tar::Builder::new(w);
    let mut written = std::collections::HashSet::new();
    let mut entries = Vec::new();
    let mut index = Vec::new();
    for (img, tags) in images {
        let mut blobs = vec![img.digest.clone(), img.config_digest.clone()];
        blobs.extend(img.manifest.layers.iter().map(|l| l.digest.clone()));
        for d in blobs {
            if written.insert(d.clone()) {
                let size = store.blob_size(&d)?;
                append(
                    &mut b,
                    &format!("blobs/sha256/{}", d.hex()),
                    size,
                    store.open_blob(&d)?,
                )
                .map_err(io_err)?;
            }
        }
        entries.push(SaveManifestEntry {
            config: format!("blobs/sha256/{}", img.config_digest.hex()),
            repo_tags: Some(tags.iter().map(|t| t.familiar()).collect()),
            layers: img
                .manifest
                .layers
                .iter()
                .map(|l| format!("blobs/sha256/{}", l.digest.hex()))
                .collect(),
        });
        let size = store.blob_size(&img.digest)?;
        let media_type = img
            .manifest
            .media_type
            .clone()
            .unwrap_or_else(|| oci::OCI_MANIFEST.into());
        let mut push = |ann: Option<BTreeMap<String, String>>| {
            index.push(Descriptor {
                media_type: media_type.clone(),
                digest: img.digest.clone(),
                size,
                platform: None,
                annotations: ann,
                urls: None,
            })
        };
        if tags.is_empty() {
            push(None);
        }
        for t in tags {
            let mut ann = BTreeMap::new();
            ann.insert("io.containerd.image.name".to_string(), t.to_string());
            if let Some(tag) = &t.tag {
                ann.insert("org.opencontainers.image.ref.name".to_string(), tag.clone());
            }
            push(Some(ann));
        }
    }
    let mj = serde_json::to_vec(&entries).expect("manifest.json serializes");
    append(&mut b, "manifest.json", mj.len() as u64, &mj[..]).map_err(io_err)?;
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    append(&mut b, "oci-layout", layout.len() as u64, &layout[..]).map_err(io_err)?;
    let idx = oci::Index {
        schema_version: 2,
        media_type: Some(oci::OCI_INDEX.into()),
        manifests: index,
        annotations: None,
    };
    let ij = serde_json::to_vec(&idx).expect("index serializes");
    append(&mut b, "index.json", ij.len() as u64, &ij[..]).map_err(io_err)?;
    b.into_inner().and_then(|mut w| w.flush()).map_err(io_err)?;
    Ok(())
}

/// Imports a root filesystem tarball (plain, gzip or zstd) as a one-layer image,
/// like `docker import`. The layer is stored uncompressed; returns the manifest digest.
pub fn import(
    store: &Store,
    r: impl Read,
    tag: Option<&Reference>,
    config: oci::RuntimeConfig,
) -> Result<LoadedImage> {
    let _using = store.use_lock()?;
    let mut plain =
        unpack::decompress(r).map_err(|e| ArchiveError::Io("rootfs tarball".into(), e))?;
    let (layer, size) = store.ingest_reader(&mut plain, None, None)?;
    let host = Platform::host();
    let created = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let cfg = ImageConfigFile {
        created: Some(created.clone()),
        author: None,
        architecture: host.architecture.clone(),
        os: host.os.clone(),
        variant: host.variant.clone(),
        config: Some(config),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![layer.clone()],
        },
        history: Some(vec![
            serde_json::json!({"created": created, "created_by": "berth image import", "comment": "Imported from tarball"}),
        ]),
        other: Default::default(),
    };
    let cfg_bytes = serde_json::to_vec(&cfg).expect("config serializes");
    let cfg_digest = store.write_blob(&cfg_bytes)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.into()),
        config: Descriptor {
            media_type: oci::OCI_CONFIG.into(),
            digest: cfg_digest,
            size: cfg_bytes.len() as u64,
            platform: None,
            annotations: None,
            urls: None,
        },
        layers: vec![Descriptor {
            media_type: oci::OCI_LAYER_TAR.into(),
            digest: layer,
            size,
            platform: None,
            annotations: None,
            urls: None,
        }],
        annotations: None,
    };
    let digest = store.write_blob(&serde_json::to_vec(&manifest).expect("manifest serializes"))?;
    let id = unpack_manifest(store, &digest)?;
    let tags: Vec<Reference> = tag.into_iter().cloned().collect();
    tag_all(store, &digest, &tags)?;
    Ok(LoadedImage { digest, id, tags })
}
