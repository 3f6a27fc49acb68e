//! Images: references, the content store, registries, archives and layer unpacking.
//!
//! What the runtime needs is [`Store::runtime_image`]: the layer directories in
//! overlay `lowerdir` order and the image's container defaults.

pub mod archive;
pub mod digest;
pub mod dir_sync;
pub mod mount_points;
pub mod oci;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod store;
pub mod unpack;

pub use digest::Digest;
pub use oci::{Healthcheck, Platform, RuntimeConfig};
pub use pull::{pull, pull_all, PullOptions, PullOutcome, PullPolicy, PullReport};
pub use reference::Reference;
pub use registry::{Client, RegistryOptions};
pub use store::{Store, StoreError, StoredImage};

use std::path::PathBuf;

/// An image ready to run: its layers unpacked and its defaults parsed.
#[derive(Debug, Clone)]
pub struct RuntimeImage {
    /// Docker's image id: the config digest.
    pub id: Digest,
    /// The manifest digest.
    pub manifest_digest: Digest,
    /// Unpacked layer directories, bottom layer first.
    pub layer_dirs: Vec<PathBuf>,
    /// Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts, Volumes, Healthcheck,
    /// StopSignal, Labels (all optional, as in the image).
    pub config: RuntimeConfig,
    /// The image's OS/architecture.
    pub platform: Platform,
}

impl RuntimeImage {
    /// The value for overlayfs `lowerdir=`: the top layer first, joined with `:`.
    pub fn lowerdir(&self) -> String {
        self.lower_dirs_top_first()
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Layer directories in overlay order (the top layer first).
    pub fn lower_dirs_top_first(&self) -> Vec<PathBuf> {
        self.layer_dirs.iter().rev().cloned().collect()
    }
}

impl Store {
    /// Looks an image up (reference, id or digest), unpacking any layer not yet
    /// unpacked, and returns what the runtime needs to start a container from it.
    pub fn runtime_image(&self, reference_or_id: &str) -> Result<RuntimeImage, StoreError> {
        let img = self.find(reference_or_id)?;
        let layer_dirs = self.ensure_unpacked(&img)?;
        Ok(RuntimeImage {
            id: img.config_digest.clone(),
            manifest_digest: img.digest.clone(),
            layer_dirs,
            config: img.config.config.clone().unwrap_or_default(),
            platform: Platform {
                architecture: img.config.architecture.clone(),
                os: img.config.os.clone(),
                variant: img.config.variant.clone(),
                os_version: None,
            },
        })
    }
}
