//! The content store on disk: blobs by digest, the image index, unpacked layers.
//!
//! Layout (see DESIGN.md): `<root>/content/blobs/sha256/<hex>`, `<root>/images/index.json`,
//! `<root>/layers/<chain-id>/diff/`. Every write goes to a temporary name, is fsynced and
//! verified, then renamed, so a process killed at any point leaves no corrupt entry.

use super::digest::{Digest, Hasher};
use super::oci::{self, Compression, ImageConfigFile, Manifest};
use super::reference::Reference;
use super::unpack::{self, UnpackError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Errors from the content store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Content did not hash to what was expected.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest asked for.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
    },
    /// Content had another length than its descriptor says.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// Which blob.
        digest: Digest,
        /// Declared size.
        expected: u64,
        /// Received size.
        actual: u64,
    },
    /// A blob the image needs is not in the store.
    #[error("blob {0} not found in the store")]
    BlobNotFound(Digest),
    /// No image with this reference or id.
    #[error("no such image: {0}")]
    ImageNotFound(String),
    /// A stored JSON document did not parse.
    #[error("malformed {what} {digest}: {source}")]
    Json {
        /// Which document.
        what: &'static str,
        /// Its digest (or file).
        digest: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The manifest kind is not usable here.
    #[error(transparent)]
    Manifest(#[from] oci::ManifestError),
    /// The image config and manifest disagree.
    #[error("image {0}: manifest has {1} layers but config lists {2} diff ids")]
    LayerCount(String, usize, usize),
    /// Unpacking a layer failed.
    #[error("unpacking layer {layer}: {source}")]
    Unpack {
        /// The layer blob.
        layer: Digest,
        /// Why.
        source: UnpackError,
    },
}

/// Result alias for the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub(crate) trait IoPath<T> {
    fn at(self, op: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoPath<T> for io::Result<T> {
    fn at(self, op: &'static str, path: &Path) -> Result<T> {
        self.map_err(|source| StoreError::Io {
            op,
            path: path.to_path_buf(),
            source,
        })
    }
}

/// One entry of the image index: a reference and what it points at.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    /// The full reference (`docker.io/library/nginx:latest`).
    pub name: String,
    /// The platform manifest the image runs from.
    pub digest: Digest,
    /// The index (manifest list) the registry served for this reference, if it was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<Digest>,
    /// The repository digest the registry knows this image by (for `RepoDigests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_digest: Option<Digest>,
    /// Unix seconds when this reference was last pulled, loaded or tagged.
    pub updated_at: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexFile {
    #[serde(default)]
    images: BTreeMap<String, ImageRecord>,
}

/// An image as stored: its manifest and parsed config.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// The index records (references) pointing at this manifest.
    pub records: Vec<ImageRecord>,
    /// The manifest digest.
    pub digest: Digest,
    /// The manifest.
    pub manifest: Manifest,
    /// The config digest: docker's image id.
    pub config_digest: Digest,
    /// The parsed config.
    pub config: ImageConfigFile,
}

impl StoredImage {
    /// Chain ids of the layers, bottom first (OCI image spec, "ChainID").
    pub fn chain_ids(&self) -> Vec<Digest> {
        chain_ids(&self.config.rootfs.diff_ids)
    }

    /// Sum of compressed layer sizes, as docker's SIZE column approximates.
    pub fn size(&self) -> u64 {
        self.manifest.layers.iter().map(|l| l.size).sum::<u64>() + self.manifest.config.size
    }
}

/// ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => Digest::of(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// Unix seconds now.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn tmp_name(prefix: &str) -> String {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}{}-{n}-{t}", std::process::id())
}

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::state::write_atomic(path, bytes).map_err(|e| match e {
        crate::state::StateError::Io { op, path, source } => StoreError::Io { op, path, source },
        other => StoreError::Io {
            op: "write",
            path: path.to_path_buf(),
            source: io::Error::other(other.to_string()),
        },
    })
}

fn syncfs(dir: &Path) -> Result<()> {
    let f = File::open(dir).at("open", dir)?;
    // SAFETY: syncfs on a descriptor we own.
    if unsafe { libc::syncfs(f.as_raw_fd()) } < 0 {
        return Err(io::Error::last_os_error()).at("syncfs", dir);
    }
    Ok(())
}

/// An flock held until dropped.
pub struct FileLock {
    _file: File,
}

fn lock(path: &Path, exclusive: bool) -> Result<FileLock> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .at("open", path)?;
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    loop {
        // SAFETY: flock on a descriptor we own.
        let r = unsafe { libc::flock(file.as_raw_fd(), op) };
        if r == 0 {
            return Ok(FileLock { _file: file });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e).at("flock", path);
        }
    }
}

/// A blob being written: hashed as it goes, renamed into place only once verified.
pub struct Ingest {
    tmp: PathBuf,
    file: Option<io::BufWriter<File>>,
    hasher: Hasher,
    kicked: u64,
    store_blobs: PathBuf,
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let w = self.file.as_mut().expect("ingest finished");
        let n = w.write(buf)?;
        self.hasher.update(&buf[..n]);
        if self.hasher.len() - self.kicked >= unpack::WRITEBACK_CHUNK {
            unpack::start_writeback(w.get_ref().as_raw_fd());
            self.kicked = self.hasher.len();
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("ingest finished").flush()
    }
}

impl Ingest {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.hasher.len()
    }

    /// Verifies digest (and size) and moves the blob into place.
    pub fn commit(
        mut self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
    ) -> Result<(Digest, u64)> {
        let w = self.file.take().expect("ingest finished");
        let file = w
            .into_inner()
            .map_err(|e| e.into_error())
            .at("write", &self.tmp)?;
        let size = self.hasher.len();
        let actual = std::mem::take(&mut self.hasher).finish();
        if let Some(exp) = expected {
            if let Some(es) = expected_size {
                if es != size {
                    return Err(StoreError::SizeMismatch {
                        digest: exp.clone(),
                        expected: es,
                        actual: size,
                    });
                }
            }
            if *exp != actual {
                return Err(StoreError::DigestMismatch {
                    expected: exp.clone(),
                    actual,
                });
            }
        }
        file.sync_all().at("fsync", &self.tmp)?;
        drop(file);
        let dest = self.store_blobs.join(actual.hex());
        fs::rename(&self.tmp, &dest).at("rename", &dest)?;
        Ok((actual, size))
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if self.tmp.exists() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The on-disk image store under one state root.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store under `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let s = Store { root: root.into() };
        for d in [
            s.blobs_dir(),
            s.ingest_dir(),
            s.root.join("images"),
            s.layers_dir(),
        ] {
            fs::create_dir_all(&d).at("create", &d)?;
        }
        Ok(s)
    }

    /// The store at `root` as it is, making none of its directories: for pins,
    /// which make what they need, once per container create.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("content/blobs/sha256")
    }

    fn ingest_dir(&self) -> PathBuf {
        self.root.join("content/ingest")
    }

    fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("images/index.json")
    }

    /// A shared lock held while content is added, so garbage collection (exclusive)
    /// never deletes a blob between its download and the index entry that references it.
    pub fn use_lock(&self) -> Result<FileLock> {
        lock(&self.root.join("content/gc.lock"), false)
    }

    /// Where a blob lives.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blobs_dir().join(d.hex())
    }

    /// Whether a blob is present.
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Size of a present blob.
    pub fn blob_size(&self, d: &Digest) -> Result<u64> {
        let p = self.blob_path(d);
        match fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::BlobNotFound(d.clone()))
            }
            Err(e) => Err(e).at("stat", &p),
        }
    }

    /// Opens a blob for streaming.
    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let p = self.blob_path(d);
        File::open(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::BlobNotFound(d.clone()),
            _ => StoreError::Io {
                op: "open",
                path: p.clone(),
                source: e,
            },
        })
    }

    /// Reads a small blob (manifest, config) whole, re-verifying its digest.
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open_blob(d)?
            .read_to_end(&mut bytes)
            .at("read", &self.blob_path(d))?;
        let actual = Digest::of(&bytes);
        if actual != *d {
            return Err(StoreError::DigestMismatch {
                expected: d.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Stores bytes as a blob and returns their digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let d = Digest::of(bytes);
        if self.has_blob(&d) {
            return Ok(d);
        }
        let mut ing = self.begin_ingest()?;
        ing.write_all(bytes).at("write", &ing.tmp.clone())?;
        Ok(ing.commit(Some(&d), None)?.0)
    }

    /// Starts writing a blob whose digest is checked at commit.
    pub fn begin_ingest(&self) -> Result<Ingest> {
        let tmp = self.ingest_dir().join(tmp_name(""));
        let f = File::create(&tmp).at("create", &tmp)?;
        Ok(Ingest {
            tmp,
            file: Some(io::BufWriter::with_capacity(256 * 1024, f)),
            hasher: Hasher::default(),
            kicked: 0,
            store_blobs: self.blobs_dir(),
        })
    }

    /// Copies a reader into the store, verifying digest and size when given.
    pub fn ingest_reader(
        &self,
        r: &mut dyn Read,
        expected: Option<&Digest>,
        size: Option<u64>,
    ) -> Result<(Digest, u64)> {
        let mut ing = self.begin_ingest()?;
        let tmp = ing.tmp.clone();
        io::copy(r, &mut ing).at("write", &tmp)?;
        ing.commit(expected, size)
    }

    fn read_index(&self) -> Result<IndexFile> {
        let p = self.index_path();
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|source| StoreError::Json {
                what: "image index",
                digest: p.display().to_string(),
                source,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(IndexFile::default()),
            Err(e) => Err(e).at("read", &p),
        }
    }

    /// Changes the image index under an exclusive lock (read, modify, atomic write), so
    /// concurrent berth processes never lose each other's updates.
    fn update_index<T>(&self, f: impl FnOnce(&mut IndexFile) -> Result<T>) -> Result<T> {
        let _l = lock(&self.root.join("images/index.lock"), true)?;
        let mut idx = self.read_index()?;
        let out = f(&mut idx)?;
        let bytes = serde_json::to_vec_pretty(&idx).expect("index serializes");
        atomic_write(&self.index_path(), &bytes)?;
        Ok(out)
    }

    /// Every reference in the index.
    pub fn records(&self) -> Result<Vec<ImageRecord>> {
        let _l = lock(&self.root.join("images/index.lock"), false)?;
        Ok(self.read_index()?.images.into_values().collect())
    }

    /// The record for one reference.
    pub fn record(&self, r: &Reference) -> Result<Option<ImageRecord>> {
        let key = r.to_string();
        Ok(self.records()?.into_iter().find(|x| x.name == key))
    }

    /// Points a reference at a manifest (creating or moving the tag).
    pub fn put_record(&self, rec: ImageRecord) -> Result<()> {
        self.update_index(|idx| {
            idx.images.insert(rec.name.clone(), rec);
            Ok(())
        })
    }

    /// Removes references; returns the records removed.
    pub fn remove_records(&self, names: &[String]) -> Result<Vec<ImageRecord>> {
        self.update_index(|idx| Ok(names.iter().filter_map(|n| idx.images.remove(n)).collect()))
    }

    /// Loads the manifest and config of a manifest digest.
    pub fn load_manifest(&self, digest: &Digest) -> Result<(Manifest, ImageConfigFile)> {
        let bytes = self.read_blob(digest)?;
        let manifest = match oci::parse_any(None, &bytes)? {
            oci::AnyManifest::Manifest(m) => m,
            oci::AnyManifest::Index(_) => {
                return Err(oci::ManifestError::Unsupported(oci::OCI_INDEX.into()).into());
            }
        };
        let cbytes = self.read_blob(&manifest.config.digest)?;
        let config: ImageConfigFile =
            serde_json::from_slice(&cbytes).map_err(|source| StoreError::Json {
                what: "image config",
                digest: manifest.config.digest.to_string(),
                source,
            })?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(StoreError::LayerCount(
                digest.to_string(),
                manifest.layers.len(),
                config.rootfs.diff_ids.len(),
            ));
        }
        Ok((manifest, config))
    }

    /// Every stored image, grouped by manifest (one entry per image, all its tags in `records`).
    pub fn images(&self) -> Result<Vec<StoredImage>> {
        let mut by_digest: BTreeMap<Digest, Vec<ImageRecord>> = BTreeMap::new();
        for r in self.records()? {
            by_digest.entry(r.digest.clone()).or_default().push(r);
        }
        let mut out = Vec::new();
        for (digest, records) in by_digest {
            match self.load_manifest(&digest) {
                Ok((manifest, config)) => {
                    let config_digest = manifest.config.digest.clone();
                    out.push(StoredImage {
                        records,
                        digest,
                        manifest,
                        config_digest,
                        config,
                    });
                }
                Err(e) => tracing::warn!("image {digest} is unreadable: {e}"),
            }
        }
        Ok(out)
    }

    /// Finds an image by reference, full or short image id (config digest), or manifest digest.
    pub fn find(&self, what: &str) -> Result<StoredImage> {
        let records = self.records()?;
        let wanted: Option<Digest> = if let Ok(r) = Reference::parse(what) {
            let key = r.to_string();
            records
                .iter()
                .find(|x| x.name == key)
                .map(|x| x.digest.clone())
        } else {
            None
        };
        let images = self.images()?;
        if let Some(d) = wanted {
            if let Some(img) = images.iter().find(|i| i.digest == d) {
                return Ok(img.clone());
            }
        }
        let id = what.strip_prefix("sha256:").unwrap_or(what);
        if id.len() >= 4 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<&StoredImage> = images
                .iter()
                .filter(|i| i.config_digest.hex().starts_with(id) || i.digest.hex().starts_with(id))
                .collect();
            if hits.len() == 1 {
                return Ok(hits[0].clone());
            }
        }
        Err(StoreError::ImageNotFound(what.to_string()))
    }

    /// Where a layer's unpacked tree lives.
    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.layers_dir().join(chain_id.hex()).join("diff")
    }

    /// Whether a layer is unpacked (only complete layers have their final name).
    pub fn has_layer(&self, chain_id: &Digest) -> bool {
        self.layer_dir(chain_id).is_dir()
    }

    /// Unpacks a stored layer blob into its chain-id directory, once: into a temporary
    /// directory first, checking the uncompressed digest against the config's diff id,
    /// then renamed, so a half-unpacked layer is never used.
    pub fn unpack_layer(
        &self,
        blob: &Digest,
        diff_id: &Digest,
        chain_id: &Digest,
    ) -> Result<PathBuf> {
        if self.has_layer(chain_id) {
            return Ok(self.layer_dir(chain_id));
        }
        let file = self.open_blob(blob)?;
        self.unpack_layer_from(
            BufReader::with_capacity(256 * 1024, file),
            diff_id,
            chain_id,
        )
        .map_err(|e| match e {
            StoreError::Unpack { source, .. } => StoreError::Unpack {
                layer: blob.clone(),
                source,
            },
            other => other,
        })
    }

    /// Unpacks a (possibly compressed) layer stream into its chain-id directory.
    pub fn unpack_layer_from(
        &self,
        mut r: impl Read,
        diff_id: &Digest,
        chain_id: &Digest,
    ) -> Result<PathBuf> {
        self.unpack_layer_with(&mut r, diff_id, chain_id, |_| Ok(()))
    }

    /// Like [`Store::unpack_layer_from`], running `finish` on the reader after the tar is
    /// read and before the layer becomes visible (the puller drains the compressed
    /// stream there). The layer is published only if its tar matches `diff_id`, which
    /// the digest-verified config pins, so a corrupted blob never yields a layer.
    pub fn unpack_layer_with<R: Read>(
        &self,
        r: &mut R,
        diff_id: &Digest,
        chain_id: &Digest,
        finish: impl FnOnce(&mut R) -> Result<()>,
    ) -> Result<PathBuf> {
        let final_dir = self.layers_dir().join(chain_id.hex());
        let tmp = self.layers_dir().join(tmp_name(".tmp-"));
        let diff = tmp.join("diff");
        // A layer's root is a directory of the image, 0755 as docker makes it.
        crate::state::perms::create_shared_dir(&diff).at("create", &diff)?;
        let res = (|| {
            let actual =
                unpack::unpack_compressed(&mut *r, &diff).map_err(|source| StoreError::Unpack {
                    layer: diff_id.clone(),
                    source,
                })?;
            finish(r)?;
            if actual != *diff_id {
                return Err(StoreError::DigestMismatch {
                    expected: diff_id.clone(),
                    actual,
                });
            }
            fs::write(tmp.join("diff-id"), diff_id.to_string()).at("write", &tmp)?;
            // One syncfs flushes every file of the layer before the rename publishes it,
            // so a crash never leaves a layer that looks complete but is not.
            syncfs(&tmp)?;
            match fs::rename(&tmp, &final_dir) {
                Ok(()) => Ok(()),
                // Another process unpacked the same layer first: theirs is as good as ours.
                Err(_) if final_dir.join("diff").is_dir() => {
                    let _ = fs::remove_dir_all(&tmp);
                    Ok(())
                }
                Err(e) => Err(e).at("rename", &final_dir),
            }
        })();
        if res.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        res.map(|()| final_dir.join("diff"))
    }

    /// Makes sure every layer of an image is unpacked; returns the layer dirs, bottom first.
    pub fn ensure_unpacked(&self, img: &StoredImage) -> Result<Vec<PathBuf>> {
        let chains = img.chain_ids();
        let mut dirs = Vec::new();
        for ((layer, diff_id), chain) in img
            .manifest
            .layers
            .iter()
            .zip(&img.config.rootfs.diff_ids)
            .zip(&chains)
        {
            dirs.push(self.unpack_layer(&layer.digest, diff_id, chain)?);
        }
        Ok(dirs)
    }

    fn pins_dir(&self) -> PathBuf {
        self.root.join("images/pins")
    }

    /// Records that `owner` (a container id) uses the image with this manifest digest,
    /// so garbage collection keeps its blobs and layers even after the image is untagged.
    ///
    /// The pin is a hard link to one durable file per image
    /// (`pins/.by-image/<hex>`), written once: pinning a container allocates no
    /// inode and writes no data, one fsync of the pins directory (shared by the
    /// threads pinning meanwhile) makes it durable.
    /// An `up` of 50 containers of one image paid 50 file writes, 100 fsyncs and
    /// 50 inode allocations on the state filesystem before.
    pub fn pin(&self, owner: &str, manifest: &Digest) -> Result<()> {
        let dir = self.pins_dir();
        let pin = dir.join(pin_name(owner));
        let shared = self.image_pin(manifest)?;
        match fs::hard_link(&shared, &pin) {
            // Shared with the other threads pinning meanwhile (one `up`).
            Ok(()) => super::dir_sync::sync_dir(&dir).at("fsync", &dir),
            // Pinned before (to this image or another): replaced whole, as a file
            // of its own.
            Err(_) => atomic_write(&pin, manifest.to_string().as_bytes()),
        }
    }

    /// The one pin file of the image with this manifest digest, which every
    /// container pin of it links to; made (durably) by the first pin.
    fn image_pin(&self, manifest: &Digest) -> Result<PathBuf> {
        let dir = self.pins_dir().join(SHARED_PINS);
        let path = dir.join(manifest.hex());
        let text = manifest.to_string();
        if fs::read_to_string(&path).is_ok_and(|t| t == text) {
            return Ok(path);
        }
        fs::create_dir_all(&dir).at("create", &dir)?;
        atomic_write(&path, text.as_bytes())?;
        Ok(path)
    }

    /// [`Store::pin`] of several images under one owner (a container's
    /// `type: image` volumes), one digest a line.
    pub fn pin_all(&self, owner: &str, manifests: &[Digest]) -> Result<()> {
        let dir = self.pins_dir();
        fs::create_dir_all(&dir).at("create", &dir)?;
        let lines: Vec<String> = manifests.iter().map(|d| d.to_string()).collect();
        atomic_write(&dir.join(pin_name(owner)), lines.join("\n").as_bytes())
    }

    /// Forgets a pin (the container is gone); a missing pin is not an error.
    pub fn unpin(&self, owner: &str) -> Result<()> {
        let p = self.pins_dir().join(pin_name(owner));
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e).at("remove", &p),
            _ => Ok(()),
        }
    }

    /// Manifest digests pinned by containers (the shared per-image files pin
    /// nothing by themselves: a directory, they are skipped here).
    pub fn pinned(&self) -> Result<Vec<Digest>> {
        let dir = self.pins_dir();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e).at("read", &dir),
        };
        Ok(rd
            .flatten()
            .filter_map(|e| fs::read_to_string(e.path()).ok())
            .flat_map(|s| {
                s.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<Digest>>()
            })
            .collect())
    }

    /// Deletes blobs and layers that no image references, nor any container pin, nor
    /// `keep`, and stale temporaries. Returns what was freed.
    pub fn gc(&self, keep: &[Digest]) -> Result<GcReport> {
        let _gc = lock(&self.root.join("content/gc.lock"), true)?;
        let mut keep = keep.to_vec();
        keep.extend(self.pinned()?);
        let mut live_blobs: HashSet<Digest> = HashSet::new();
        let mut live_layers: HashSet<String> = HashSet::new();
        let records = self.records()?;
        let mut manifests: Vec<Digest> = keep;
        for r in &records {
            manifests.push(r.digest.clone());
            for d in [&r.index_digest, &r.repo_digest].into_iter().flatten() {
                live_blobs.insert(d.clone());
                // A kept index keeps its manifests' blobs only for the platform we use.
            }
        }
        for m in &manifests {
            live_blobs.insert(m.clone());
            if let Ok((manifest, config)) = self.load_manifest(m) {
                live_blobs.insert(manifest.config.digest.clone());
                for l in &manifest.layers {
                    live_blobs.insert(l.digest.clone());
                }
                for c in chain_ids(&config.rootfs.diff_ids) {
                    live_layers.insert(c.hex().to_string());
                }
            }
        }
        let mut report = GcReport::default();
        let dir = self.blobs_dir();
        for e in fs::read_dir(&dir).at("read", &dir)? {
            let e = e.at("read", &dir)?;
            let name = e.file_name().to_string_lossy().into_owned();
            let keep = Digest::from_hex(&name)
                .map(|d| live_blobs.contains(&d))
                .unwrap_or(false);
            if !keep {
                report.bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                fs::remove_file(e.path()).at("remove", &e.path())?;
                report.blobs.push(name);
            }
        }
        let dir = self.layers_dir();
        for e in fs::read_dir(&dir).at("read", &dir)? {
            let e = e.at("read", &dir)?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !live_layers.contains(&name) {
                // remove_dir_all does not follow symlinks inside the tree.
                fs::remove_dir_all(e.path()).at("remove", &e.path())?;
                report.layers.push(name);
            }
        }
        let dir = self.ingest_dir();
        for e in fs::read_dir(&dir).at("read", &dir)?.flatten() {
            let _ = fs::remove_file(e.path());
        }
        // Per-image pin files no container links to any more. A pin made
        // meanwhile either linked first (two links: kept) or finds it gone and
        // writes a file of its own.
        if let Ok(rd) = fs::read_dir(self.pins_dir().join(SHARED_PINS)) {
            for e in rd.flatten() {
                if e.metadata().is_ok_and(|m| m.nlink() == 1) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(report)
    }
}

/// The directory, inside the pins directory, of the per-image files container
/// pins link to. A pin owner's name never starts with a dot ([`pin_name`]).
const SHARED_PINS: &str = ".by-image";

/// A file name for a pin owner that cannot leave the pins directory.
fn pin_name(owner: &str) -> String {
    owner
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What garbage collection removed.
#[derive(Debug, Default, Clone, Serialize)]
pub struct GcReport {
    /// Blob hex digests deleted.
    pub blobs: Vec<String>,
    /// Layer chain ids (hex) deleted.
    pub layers: Vec<String>,
    /// Bytes of blobs deleted.
    pub bytes: u64,
}

/// The compression of a layer descriptor, from its media type.
pub fn layer_compression(media_type: &str) -> Compression {
    if media_type.ends_with("zstd") {
        Compression::Zstd
    } else if media_type.ends_with("gzip") {
        Compression::Gzip
    } else {
        Compression::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let c = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(c[0], a);
        assert_eq!(c[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn container_pins_share_one_file_per_image_and_gc_drops_it_with_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let (m1, m2) = (Digest::of(b"m1"), Digest::of(b"m2"));
        s.pin("c1", &m1).unwrap();
        s.pin("c2", &m1).unwrap();
        // Re-pinned to another image: its own file, not the first image's.
        s.pin("c2", &m2).unwrap();
        let mut pinned = s.pinned().unwrap();
        pinned.sort_by_key(|a| a.to_string());
        let mut want = vec![m1.clone(), m2.clone()];
        want.sort_by_key(|a| a.to_string());
        assert_eq!(pinned, want);
        let shared = s.pins_dir().join(SHARED_PINS).join(m1.hex());
        assert_eq!(fs::read_to_string(&shared).unwrap(), m1.to_string());
        s.unpin("c1").unwrap();
        s.unpin("c2").unwrap();
        assert!(s.pinned().unwrap().is_empty());
        s.gc(&[]).unwrap();
        assert!(!shared.exists(), "no container links to it any more");
    }

    #[test]
    fn blobs_are_verified() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let d = s.write_blob(b"hello").unwrap();
        assert_eq!(s.read_blob(&d).unwrap(), b"hello");
        let wrong = Digest::of(b"other");
        let err = s
            .ingest_reader(&mut &b"hello"[..], Some(&wrong), None)
            .unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }));
        assert!(!s.has_blob(&wrong));
        assert_eq!(fs::read_dir(s.ingest_dir()).unwrap().count(), 0);
        let err = s
            .ingest_reader(&mut &b"hello"[..], Some(&d), Some(4))
            .unwrap_err();
        assert!(matches!(err, StoreError::SizeMismatch { .. }));
    }

    #[test]
    fn index_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let rec = ImageRecord {
            name: "docker.io/library/x:latest".into(),
            digest: Digest::of(b"m"),
            index_digest: None,
            repo_digest: None,
            updated_at: 1,
        };
        s.put_record(rec.clone()).unwrap();
        assert_eq!(s.records().unwrap(), vec![rec.clone()]);
        assert_eq!(
            s.remove_records(std::slice::from_ref(&rec.name))
                .unwrap()
                .len(),
            1
        );
        assert!(s.records().unwrap().is_empty());
    }
}
