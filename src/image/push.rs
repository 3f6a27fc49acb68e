//! Pushing a stored image: every blob (skipping those the registry has, mounting
//! from the source repository when it is on the same registry), then the manifest.

use super::reference::Reference;
use super::registry::{Client, RegistryError};
use super::store::{Store, StoreError, StoredImage};
use super::Digest;

/// Errors from a push.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Talking to the registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct PushReport {
    /// The manifest digest pushed.
    pub digest: Digest,
    /// Blobs uploaded (others were already there or mounted).
    pub uploaded: usize,
    /// Blobs skipped.
    pub skipped: usize,
}

/// Pushes `img` as `target`, calling `on_blob(digest, uploaded)` after each blob.
pub fn push(
    store: &Store,
    client: &Client,
    img: &StoredImage,
    target: &Reference,
    on_blob: &dyn Fn(&Digest, bool),
) -> Result<PushReport, PushError> {
    let _using = store.use_lock()?;
    let mount_from: Option<String> = img
        .records
        .iter()
        .filter_map(|r| Reference::parse(&r.name).ok())
        .find(|r| r.registry == target.registry && r.repository != target.repository)
        .map(|r| r.repository);
    let mut uploaded = 0;
    let mut skipped = 0;
    let blobs = img
        .manifest
        .layers
        .iter()
        .chain(std::iter::once(&img.manifest.config));
    for d in blobs {
        let path = store.blob_path(&d.digest);
        let size = store.blob_size(&d.digest)?;
        let up = client.push_blob(target, &d.digest, &path, size, mount_from.as_deref())?;
        if up {
            uploaded += 1;
        } else {
            skipped += 1;
        }
        on_blob(&d.digest, up);
    }
    let bytes = store.read_blob(&img.digest)?;
    let media_type = img
        .manifest
        .media_type
        .clone()
        .unwrap_or_else(|| super::oci::OCI_MANIFEST.to_string());
    let locator = target.tag.clone().unwrap_or_else(|| img.digest.to_string());
    client.put_manifest(target, &locator, &bytes, &media_type)?;
    Ok(PushReport {
        digest: img.digest.clone(),
        uploaded,
        skipped,
    })
}
