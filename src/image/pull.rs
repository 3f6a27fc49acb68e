//! Pulling images: resolve a reference to a platform manifest, fetch the config, and
//! download every missing layer concurrently while unpacking it in the same pass
//! (the compressed bytes go to the blob store and through the unpacker at once,
//! verified by digest before either becomes visible). Also `pull_policy`.

use super::digest::Digest;
use super::oci::{self, AnyManifest, Descriptor, ImageConfigFile, Platform};
use super::reference::Reference;
use super::registry::{Client, RegistryError};
use super::store::{now_unix, ImageRecord, Store, StoreError};
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Errors from a pull.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// Talking to the registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Storing or unpacking failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The manifest was unusable.
    #[error("{reference}: {source}")]
    Manifest {
        /// The image.
        reference: String,
        /// Why.
        source: oci::ManifestError,
    },
    /// The index has nothing for this machine.
    #[error("{reference}: no image for platform {platform} in the manifest list")]
    NoPlatform {
        /// The image.
        reference: String,
        /// What was wanted.
        platform: String,
    },
    /// The image config did not parse.
    #[error("{reference}: malformed image config: {source}")]
    Config {
        /// The image.
        reference: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The manifest and config disagree on the number of layers.
    #[error("{0}: manifest and config disagree on the number of layers")]
    LayerCount(String),
    /// Reading a blob stream failed midway.
    #[error("downloading {digest}: {source}")]
    Download {
        /// The blob.
        digest: Digest,
        /// Why.
        source: io::Error,
    },
}

/// Options for pulls.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to select from indexes (default: this machine's).
    pub platform: Platform,
    /// Layers downloaded at the same time per image.
    pub concurrency: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: Platform::host(),
            concurrency: 4,
        }
    }
}

/// What a pull reports as it goes; implemented by the CLI's progress display.
#[derive(Debug)]
pub enum PullEvent<'a> {
    /// Asking the registry for the manifest.
    Resolving {
        /// The image.
        image: &'a Reference,
    },
    /// The manifest is known: these are the layers.
    Layers {
        /// The image.
        image: &'a Reference,
        /// Its layer descriptors, bottom first.
        layers: &'a [Descriptor],
    },
    /// A layer was already unpacked locally.
    LayerExists {
        /// The image.
        image: &'a Reference,
        /// The layer blob.
        layer: &'a Digest,
    },
    /// Bytes of a layer downloaded so far.
    LayerBytes {
        /// The image.
        image: &'a Reference,
        /// The layer blob.
        layer: &'a Digest,
        /// Downloaded.
        done: u64,
        /// Total.
        total: u64,
    },
    /// A layer is downloaded, verified and unpacked.
    LayerDone {
        /// The image.
        image: &'a Reference,
        /// The layer blob.
        layer: &'a Digest,
    },
    /// The image is pulled.
    Done {
        /// The image.
        image: &'a Reference,
        /// Its manifest digest.
        digest: &'a Digest,
        /// Whether anything changed locally.
        updated: bool,
    },
}

/// Receives pull events from any thread.
pub trait Progress: Sync {
    /// One event.
    fn event(&self, ev: &PullEvent<'_>);
}

/// Discards events.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: &PullEvent<'_>) {}
}

/// The result of one pull.
#[derive(Debug, Clone)]
pub struct PullReport {
    /// The reference pulled.
    pub reference: Reference,
    /// The platform manifest digest stored.
    pub digest: Digest,
    /// The digest the registry serves for the reference (index or manifest).
    pub repo_digest: Digest,
    /// Layers downloaded (others were present).
    pub layers_downloaded: usize,
    /// Compressed bytes downloaded.
    pub bytes_downloaded: u64,
    /// Whether the local reference moved (false: "Image is up to date").
    pub updated: bool,
}

/// Counts bytes and reports progress every 256 KiB.
struct Counting<'a, R> {
    inner: R,
    done: u64,
    last: u64,
    total: u64,
    image: &'a Reference,
    layer: &'a Digest,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.done - self.last >= 256 * 1024 || (n == 0 && self.done != self.last) {
            self.last = self.done;
            self.progress.event(&PullEvent::LayerBytes {
                image: self.image,
                layer: self.layer,
                done: self.done,
                total: self.total,
            });
        }
        Ok(n)
    }
}

/// Fetches a small blob (config) into the store, verified.
fn fetch_small(
    store: &Store,
    client: &Client,
    r: &Reference,
    d: &Descriptor,
) -> Result<(), PullError> {
    if store.has_blob(&d.digest) {
        return Ok(());
    }
    let mut body = client.get_blob(r, &d.digest)?;
    store.ingest_reader(&mut body, Some(&d.digest), Some(d.size))?;
    Ok(())
}

/// Resolves a reference to its platform manifest, storing the index and manifest blobs.
/// Returns (manifest digest, index digest if any, repo digest).
pub fn resolve(
    store: &Store,
    client: &Client,
    r: &Reference,
    platform: &Platform,
) -> Result<(Digest, Option<Digest>, Digest), PullError> {
    let top = client.get_manifest(r, &r.locator())?;
    let parsed = oci::parse_any(top.content_type.as_deref(), &top.bytes).map_err(|source| {
        PullError::Manifest {
            reference: r.to_string(),
            source,
        }
    })?;
    store.write_blob(&top.bytes)?;
    match parsed {
        AnyManifest::Manifest(_) => Ok((top.digest.clone(), None, top.digest)),
        AnyManifest::Index(idx) => {
            let d = idx.select(platform).ok_or_else(|| PullError::NoPlatform {
                reference: r.to_string(),
                platform: platform.to_string(),
            })?;
            let child = client.get_manifest(r, &d.digest.to_string())?;
            if !matches!(
                oci::parse_any(child.content_type.as_deref(), &child.bytes),
                Ok(AnyManifest::Manifest(_))
            ) {
                return Err(PullError::Manifest {
                    reference: r.to_string(),
                    source: oci::ManifestError::Unsupported("nested index".into()),
                });
            }
            store.write_blob(&child.bytes)?;
            Ok((child.digest, Some(top.digest.clone()), top.digest))
        }
    }
}

/// Pulls one image into the store and tags it locally with its reference.
pub fn pull(
    store: &Store,
    client: &Client,
    r: &Reference,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<PullReport, PullError> {
    // Held for the whole pull so a concurrent `image prune` cannot collect fresh blobs.
    let _using = store.use_lock()?;
    progress.event(&PullEvent::Resolving { image: r });
    let (digest, index_digest, repo_digest) = resolve(store, client, r, &opts.platform)?;
    let manifest = match oci::parse_any(None, &store.read_blob(&digest)?) {
        Ok(AnyManifest::Manifest(m)) => m,
        _ => unreachable!("resolve returns a manifest"),
    };
    progress.event(&PullEvent::Layers {
        image: r,
        layers: &manifest.layers,
    });
    fetch_small(store, client, r, &manifest.config)?;
    let config: ImageConfigFile =
        serde_json::from_slice(&store.read_blob(&manifest.config.digest)?).map_err(|source| {
            PullError::Config {
                reference: r.to_string(),
                source,
            }
        })?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(PullError::LayerCount(r.to_string()));
    }
    let chains = super::store::chain_ids(&config.rootfs.diff_ids);
    let todo: Vec<usize> = (0..manifest.layers.len())
        .filter(|&i| {
            let present = store.has_layer(&chains[i]) && store.has_blob(&manifest.layers[i].digest);
            if present {
                progress.event(&PullEvent::LayerExists {
                    image: r,
                    layer: &manifest.layers[i].digest,
                });
            }
            !present
        })
        .collect();
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<PullError>> = Mutex::new(None);
    let bytes = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..opts.concurrency.max(1).min(todo.len().max(1)) {
            s.spawn(|| loop {
                if first_error.lock().expect("error slot").is_some() {
                    return;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = todo.get(k) else { return };
                let layer = &manifest.layers[i];
                let mut attempt = 1;
                let res = loop {
                    let diff_id = &config.rootfs.diff_ids[i];
                    match fetch_layer(store, client, r, layer, diff_id, &chains[i], progress) {
                        // A connection cut midway: start the layer again, as docker does.
                        Err(e) if attempt < client.attempts() && is_transient(&e) => {
                            tracing::warn!("{}: {e}; retrying", layer.digest);
                            std::thread::sleep(Duration::from_millis(500 << attempt));
                            attempt += 1;
                        }
                        other => break other,
                    }
                };
                match res {
                    Ok(n) => {
                        bytes.fetch_add(n, Ordering::Relaxed);
                        progress.event(&PullEvent::LayerDone {
                            image: r,
                            layer: &layer.digest,
                        });
                    }
                    Err(e) => {
                        first_error.lock().expect("error slot").get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("error slot") {
        return Err(e);
    }
    let previous = store.record(r)?;
    let updated = previous
        .as_ref()
        .map(|p| p.digest != digest)
        .unwrap_or(true);
    store.put_record(ImageRecord {
        name: r.to_string(),
        digest: digest.clone(),
        index_digest,
        repo_digest: Some(repo_digest.clone()),
        updated_at: now_unix(),
    })?;
    progress.event(&PullEvent::Done {
        image: r,
        digest: &digest,
        updated,
    });
    Ok(PullReport {
        reference: r.clone(),
        digest,
        repo_digest,
        layers_downloaded: todo.len(),
        bytes_downloaded: bytes.into_inner(),
        updated,
    })
}

/// Errors worth downloading a layer again for: the stream broke, not the content.
fn is_transient(e: &PullError) -> bool {
    let io_transient = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::TimedOut
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::Other
        )
    };
    match e {
        PullError::Download { source, .. } => io_transient(source),
        PullError::Registry(RegistryError::Transport { .. }) => true,
        PullError::Store(StoreError::Unpack {
            source: super::unpack::UnpackError::Stream(s),
            ..
        }) => io_transient(s),
        PullError::Store(StoreError::Io {
            op: "download",
            source,
            ..
        }) => io_transient(source),
        _ => false,
    }
}

/// Downloads one layer and unpacks it in the same pass; returns bytes downloaded.
fn fetch_layer(
    store: &Store,
    client: &Client,
    r: &Reference,
    layer: &Descriptor,
    diff_id: &Digest,
    chain: &Digest,
    progress: &dyn Progress,
) -> Result<u64, PullError> {
    if store.has_blob(&layer.digest) {
        store.unpack_layer(&layer.digest, diff_id, chain)?;
        return Ok(0);
    }
    let body = client.get_blob(r, &layer.digest)?;
    let counting = Counting {
        inner: body,
        done: 0,
        last: 0,
        total: layer.size,
        image: r,
        layer: &layer.digest,
        progress,
    };
    let mut ingest = store.begin_ingest()?;
    if store.has_layer(chain) {
        // Only the blob is missing (pruned, or layer shared with a loaded image).
        let mut c = counting;
        io::copy(&mut c, &mut ingest).map_err(|source| PullError::Download {
            digest: layer.digest.clone(),
            source,
        })?;
        ingest.commit(Some(&layer.digest), Some(layer.size))?;
        return Ok(layer.size);
    }
    // Two threads per layer: one receives and stores the compressed bytes, the other
    // decompresses and unpacks them, with a small bounded queue between (memory stays
    // flat whatever the layer size).
    let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(8);
    std::thread::scope(|s| {
        let downloader = s.spawn(move || download_into(counting, ingest, tx));
        let mut reader = ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
        };
        let res = store.unpack_layer_with(&mut reader, diff_id, chain, |r| {
            // Trailing bytes after the compressed stream still count towards the digest.
            io::copy(r, &mut io::sink()).map_err(|e| StoreError::Io {
                op: "download",
                path: layer.digest.to_string().into(),
                source: e,
            })?;
            Ok(())
        });
        drop(reader);
        let downloaded = downloader.join().expect("download thread panicked");
        res?;
        let ingest = downloaded.map_err(|source| PullError::Download {
            digest: layer.digest.clone(),
            source,
        })?;
        ingest.commit(Some(&layer.digest), Some(layer.size))?;
        Ok(layer.size)
    })
}

/// Reads the blob into the store and hands each chunk to the unpacker.
fn download_into(
    mut body: impl Read,
    mut ingest: super::store::Ingest,
    tx: std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>,
) -> io::Result<super::store::Ingest> {
    const CHUNK: usize = 256 * 1024;
    loop {
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        // Socket reads are small; batch them so the queue carries few, large chunks.
        while filled < CHUNK / 2 {
            match body.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                    return Err(e);
                }
            }
        }
        if filled == 0 {
            return Ok(ingest);
        }
        buf.truncate(filled);
        if let Err(e) = io::Write::write_all(&mut ingest, &buf) {
            let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
            return Err(e);
        }
        if tx.send(Ok(buf)).is_err() {
            // The unpacker stopped; its error is the one reported.
            return Ok(ingest);
        }
    }
}

/// The unpacker's end of the download queue.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.cur = chunk?;
                    self.pos = 0;
                }
                Err(_) => return Ok(0), // sender done: end of stream
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// When a compose service's image is pulled (`pull_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull every time.
    Always,
    /// Pull only when not present (`missing`, `if_not_present`).
    Missing,
    /// Never pull.
    Never,
    /// Build instead of pulling.
    Build,
    /// Pull when the local copy is older than this (`daily`, `weekly`, `every_<duration>`).
    Every(Duration),
}

/// A `pull_policy` value berth does not know.
#[derive(Debug, thiserror::Error)]
#[error("invalid pull_policy {0:?}: expected always, missing, if_not_present, never, build, daily, weekly or every_<duration>")]
pub struct PullPolicyError(pub String);

impl PullPolicy {
    /// Parses a compose `pull_policy` (or `--policy`) value.
    pub fn parse(s: &str) -> Result<Self, PullPolicyError> {
        let err = || PullPolicyError(s.to_string());
        Ok(match s {
            "always" => PullPolicy::Always,
            "missing" | "if_not_present" => PullPolicy::Missing,
            "never" => PullPolicy::Never,
            "build" => PullPolicy::Build,
            "daily" => PullPolicy::Every(Duration::from_secs(24 * 3600)),
            "weekly" => PullPolicy::Every(Duration::from_secs(7 * 24 * 3600)),
            _ => {
                let d = s.strip_prefix("every_").ok_or_else(err)?;
                let dur = humantime::parse_duration(d).map_err(|_| err())?;
                if dur.is_zero() {
                    return Err(err());
                }
                PullPolicy::Every(dur)
            }
        })
    }

    /// Whether to pull, given when the local image was last pulled (unix seconds; `None`
    /// when it is not present) and the time now.
    pub fn should_pull(&self, local_pulled_at: Option<u64>, now: u64) -> bool {
        match self {
            PullPolicy::Always => true,
            PullPolicy::Missing => local_pulled_at.is_none(),
            PullPolicy::Never | PullPolicy::Build => false,
            PullPolicy::Every(d) => {
                local_pulled_at.is_none_or(|t| now.saturating_sub(t) >= d.as_secs())
            }
        }
    }
}

/// The outcome of one image in [`pull_all`].
#[derive(Debug)]
pub enum PullOutcome {
    /// Pulled (maybe "up to date").
    Pulled(PullReport),
    /// The policy said not to pull.
    Skipped,
    /// The pull failed.
    Failed(PullError),
}

/// Pulls several images concurrently (two at a time), each per its policy; the
/// results come back in input order. Used by `berth pull` for a compose project.
pub fn pull_all(
    store: &Store,
    client: &Client,
    items: &[(Reference, PullPolicy)],
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Vec<(Reference, PullOutcome)> {
    let now = now_unix();
    let results: Vec<Mutex<Option<PullOutcome>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    // Two images at a time, each with its own layer concurrency.
    std::thread::scope(|s| {
        for _ in 0..2.min(items.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((r, policy)) = items.get(i) else {
                    return;
                };
                let local = store.record(r).ok().flatten().map(|rec| rec.updated_at);
                let out = if !policy.should_pull(local, now) {
                    PullOutcome::Skipped
                } else {
                    match pull(store, client, r, opts, progress) {
                        Ok(rep) => PullOutcome::Pulled(rep),
                        Err(e) => PullOutcome::Failed(e),
                    }
                };
                *results[i].lock().expect("result slot") = Some(out);
            });
        }
    });
    items
        .iter()
        .zip(results)
        .map(|((r, _), m)| {
            (
                r.clone(),
                m.into_inner()
                    .expect("result slot")
                    .expect("every item ran"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        assert_eq!(
            PullPolicy::parse("if_not_present").unwrap(),
            PullPolicy::Missing
        );
        assert_eq!(
            PullPolicy::parse("every_12h").unwrap(),
            PullPolicy::Every(Duration::from_secs(12 * 3600))
        );
        assert_eq!(
            PullPolicy::parse("daily").unwrap(),
            PullPolicy::Every(Duration::from_secs(86400))
        );
        assert!(PullPolicy::parse("sometimes").is_err());
        assert!(PullPolicy::parse("every_").is_err());
        let p = PullPolicy::parse("every_1h").unwrap();
        assert!(p.should_pull(None, 10_000));
        assert!(!p.should_pull(Some(10_000 - 3599), 10_000));
        assert!(p.should_pull(Some(10_000 - 3600), 10_000));
        assert!(PullPolicy::Missing.should_pull(None, 0));
        assert!(!PullPolicy::Missing.should_pull(Some(0), 0));
        assert!(!PullPolicy::Never.should_pull(None, 0));
        assert!(PullPolicy::Always.should_pull(Some(5), 5));
    }
}
