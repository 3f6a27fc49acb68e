//! Layers as registries expect them: built layers are stored as plain tars (their
//! digest is their diff_id, nothing to decompress when unpacking); a push sends
//! them gzip-compressed (`application/vnd.oci.image.layer.v1.tar+gzip`), as docker
//! and registries expect, the config's diff_ids unchanged.

use std::io::{self, Write};

use flate2::write::GzEncoder;

use super::oci::{self, Descriptor, Manifest};
use super::store::{Store, StoreError};

/// Whether `media_type` is an uncompressed layer tar.
fn plain_tar(media_type: &str) -> bool {
    media_type == oci::OCI_LAYER_TAR || media_type == "application/vnd.docker.image.rootfs.diff.tar"
}

/// `manifest` with its uncompressed layers gzipped into new blobs of `store`;
/// `None` when every layer already is compressed.
pub fn gzip_layers(store: &Store, manifest: &Manifest) -> Result<Option<Manifest>, StoreError> {
    // A layer whose plain tar is not kept as a blob (an imported rootfs) is
    // pushed as it was before: the push path knows how to send it.
    let wanted = |l: &Descriptor| plain_tar(&l.media_type) && store.has_blob(&l.digest);
    if !manifest.layers.iter().any(wanted) {
        return Ok(None);
    }
    let docker = manifest.media_type.as_deref() == Some(oci::DOCKER_MANIFEST);
    let mut out = manifest.clone();
    for l in out.layers.iter_mut().filter(|l| wanted(l)) {
        *l = gzip(store, l, docker)?;
    }
    Ok(Some(out))
}

fn gzip(store: &Store, layer: &Descriptor, docker: bool) -> Result<Descriptor, StoreError> {
    let mut src = store.open_blob(&layer.digest)?;
    let ing = store.begin_ingest()?;
    let mut gz = GzEncoder::new(ing, flate2::Compression::default());
    let copied = io::copy(&mut src, &mut gz).and_then(|_| gz.flush());
    let ing = match copied.and_then(|_| gz.finish()) {
        Ok(i) => i,
        Err(e) => {
            return Err(StoreError::Io {
                op: "gzip",
                path: store.blob_path(&layer.digest),
                source: e,
            })
        }
    };
    let (digest, size) = ing.commit(None, None)?;
    Ok(Descriptor {
        media_type: if docker {
            oci::DOCKER_LAYER_GZIP.into()
        } else {
            oci::OCI_LAYER_GZIP.into()
        },
        digest,
        size,
        platform: None,
        annotations: layer.annotations.clone(),
        urls: None,
    })
}
