//! The build cache: what each step produced, by key.
//!
//! A key is the digest of the parent step's key and everything the step depends on
//! (the instruction after expansion, the ARG/ENV in scope for RUN, the content of
//! COPY sources, the user, workdir and shell). An entry records the layer the step
//! made (if any) and the time it was first made, so a fully cached rebuild writes
//! byte-identical config and yields the same image id.
//!
//! Entries live in `<root>/build/cache/<key>.json`. An entry with a layer also pins,
//! through the store's own pins, a small manifest listing its whole layer chain, so
//! the store's garbage collection (`image prune`, `down --rmi`, `rmi`) never deletes
//! a layer the cache points at; `builder prune` drops entries and their pins.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::layer::LayerRef;
use crate::image::digest::{Digest, Hasher};
use crate::image::oci::{self, Descriptor, ImageConfigFile, Manifest, Platform, RootFs};
use crate::image::store::{Store, StoreError};

/// What one cached step produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// When the step first ran (RFC 3339), reused in history and `created`.
    pub created: String,
    /// The layer it added; `None` for a metadata step or a RUN that changed nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerRef>,
}

/// A cache key under construction.
#[derive(Default)]
pub struct KeyBuilder(Hasher);

impl KeyBuilder {
    /// A key derived from its parent's.
    pub fn child_of(parent: &Digest) -> KeyBuilder {
        let mut k = KeyBuilder::default();
        k.field("parent", parent.hex());
        k
    }

    /// Adds one named field (length-prefixed, so fields never run together).
    pub fn field(&mut self, name: &str, value: &str) -> &mut Self {
        self.0
            .update(format!("{}:{name}={}:{value}\n", name.len(), value.len()).as_bytes());
        self
    }

    /// The key.
    pub fn finish(self) -> Digest {
        self.0.finish()
    }
}

/// The cache directory of one state root.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

fn pin_owner(key: &Digest) -> String {
    format!("build-cache-{}", key.hex())
}

impl Cache {
    /// The cache under `root` (created on first write).
    pub fn new(root: &Path) -> Cache {
        Cache {
            dir: root.join("build/cache"),
        }
    }

    fn path(&self, key: &Digest) -> PathBuf {
        self.dir.join(format!("{}.json", key.hex()))
    }

    /// The entry for `key`, if present and its layer is still in the store.
    pub fn get(&self, store: &Store, key: &Digest) -> Option<Entry> {
        let bytes = fs::read(self.path(key)).ok()?;
        let e: Entry = serde_json::from_slice(&bytes).ok()?;
        if let Some(l) = &e.layer {
            if !store.has_blob(&l.digest) {
                return None;
            }
        }
        Some(e)
    }

    /// Records `entry` for `key`; `layers` and `diff_ids` are the whole chain up to
    /// and including the entry's layer, bottom first, pinned in the store so garbage
    /// collection keeps them.
    pub fn put(
        &self,
        store: &Store,
        key: &Digest,
        entry: &Entry,
        layers: &[Descriptor],
        diff_ids: &[Digest],
    ) -> Result<(), StoreError> {
        fs::create_dir_all(&self.dir).map_err(|source| StoreError::Io {
            op: "create",
            path: self.dir.clone(),
            source,
        })?;
        if entry.layer.is_some() {
            let manifest = snapshot_manifest(store, layers, diff_ids)?;
            store.pin(&pin_owner(key), &manifest)?;
        }
        let bytes = serde_json::to_vec(entry).expect("cache entry serializes");
        crate::image::store::atomic_write(&self.path(key), &bytes)
    }

    /// Removes entries: all of them with `all`, else those whose layer no tagged
    /// image uses. Returns (entries removed, bytes of blobs the store then freed).
    pub fn prune(&self, store: &Store, all: bool) -> Result<(usize, u64), StoreError> {
        let in_images: std::collections::HashSet<Digest> = if all {
            Default::default()
        } else {
            store
                .images()?
                .into_iter()
                .flat_map(|i| i.manifest.layers.into_iter().map(|l| l.digest))
                .collect()
        };
        let mut removed = 0;
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(source) => {
                return Err(StoreError::Io {
                    op: "read",
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(hex) = name.strip_suffix(".json") else {
                let _ = fs::remove_file(e.path());
                continue;
            };
            let entry: Option<Entry> = fs::read(e.path())
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            let keep = !all
                && entry
                    .as_ref()
                    .and_then(|x| x.layer.as_ref())
                    .is_some_and(|l| in_images.contains(&l.digest));
            if keep {
                continue;
            }
            if let Ok(k) = Digest::from_hex(hex) {
                store.unpin(&pin_owner(&k))?;
            }
            let _ = fs::remove_file(e.path());
            removed += 1;
        }
        let freed = store.gc(&[])?.bytes;
        Ok((removed, freed))
    }
}

/// A manifest (and minimal config) naming a layer chain, for pinning.
fn snapshot_manifest(
    store: &Store,
    layers: &[Descriptor],
    diff_ids: &[Digest],
) -> Result<Digest, StoreError> {
    let host = Platform::host();
    let diff_ids = diff_ids.to_vec();
    let cfg = ImageConfigFile {
        architecture: host.architecture,
        os: host.os,
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids,
        },
        ..Default::default()
    };
    let cfg_bytes = serde_json::to_vec(&cfg).expect("config serializes");
    let cfg_digest = store.write_blob(&cfg_bytes)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.into()),
        config: descriptor(oci::OCI_CONFIG, cfg_digest, cfg_bytes.len() as u64),
        layers: layers.to_vec(),
        annotations: None,
    };
    store.write_blob(&serde_json::to_vec(&manifest).expect("manifest serializes"))
}

/// A descriptor without platform or annotations.
pub fn descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest,
        size,
        platform: None,
        annotations: None,
        urls: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_fields() {
        let mut a = KeyBuilder::default();
        a.field("x", "ab").field("y", "c");
        let mut b = KeyBuilder::default();
        b.field("x", "a").field("y", "bc");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn entries_roundtrip_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cache = Cache::new(dir.path());
        let k = Digest::of(b"k");
        let e = Entry {
            created: "2026-01-01T00:00:00Z".into(),
            layer: None,
        };
        cache.put(&store, &k, &e, &[], &[]).unwrap();
        assert_eq!(cache.get(&store, &k), Some(e));
        assert_eq!(cache.prune(&store, true).unwrap().0, 1);
        assert_eq!(cache.get(&store, &k), None);
    }
}
