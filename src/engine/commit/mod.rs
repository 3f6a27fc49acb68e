//! `commit`: a service container's changes as a new image, as `docker commit`
//! makes it. The container's overlay upper dir is its change set: it becomes one
//! more layer (overlay whiteouts and opaque dirs written as OCI `.wh.` entries,
//! by the builder's layer writer) on the container's image, the config gets the
//! `--change` instructions, the author and a history entry, and the result is
//! stored and tagged like any pulled or built image, so `images` lists it and a
//! service can run it. The container is frozen meanwhile unless `--pause=false`.

pub mod changes;

use std::time::SystemTime;

use anyhow::{anyhow, Context as _, Result};
use serde_json::json;

use crate::build::cache::descriptor;
use crate::container::list::Found;
use crate::container::ContainerState;
use crate::image::oci::{self, Manifest};
use crate::image::reference::Reference;
use crate::image::store::{now_unix, ImageRecord, Store};
use crate::image::Digest;
use crate::state::{ContainerDir, Layout};

/// What `commit` is asked for.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `REPOSITORY[:TAG]`, or none for an untagged image.
    pub reference: Option<String>,
    /// `-m`.
    pub comment: Option<String>,
    /// `-a`.
    pub author: Option<String>,
    /// `-c`: Dockerfile instructions.
    pub changes: Vec<String>,
    /// `-p`: freeze the container while its files are read.
    pub pause: bool,
}

/// The image made: docker's image id (the config digest).
#[derive(Debug, Clone)]
pub struct Committed {
    /// `sha256:…` of the config.
    pub id: Digest,
}

/// Commits `found`'s changes as a new image.
pub fn commit(layout: &Layout, found: &Found, opts: &CommitOptions) -> Result<Committed> {
    // Bad input fails before the container is touched.
    let reference = opts
        .reference
        .as_deref()
        .map(|r| Reference::parse(r).map_err(|e| anyhow!("invalid reference format {r:?}: {e}")))
        .transpose()?;
    let store = Store::open(&layout.root)?;
    let base = store
        .find(&found.record.image_id)
        .or_else(|_| store.find(&found.record.image))
        .with_context(|| format!("the image of container {}", found.record.name))?;
    let mut config = base.config.clone();
    let mut rc = config.config.clone().unwrap_or_default();
    for c in &opts.changes {
        changes::apply(&mut rc, c)?;
    }
    config.config = Some(rc);
    let freeze = opts.pause && found.status.state == ContainerState::Running;
    if freeze {
        crate::engine::pause::set_paused(layout, found, true)?;
    }
    let layer = (|| -> Result<(Digest, u64)> {
        let mut ing = store.begin_ingest()?;
        crate::build::layer::write_tar(&ContainerDir::new(&found.dir).upper(), &mut ing)?;
        Ok(ing.commit(None, None)?)
    })();
    if freeze {
        crate::engine::pause::set_paused(layout, found, false)?;
    }
    let (layer_digest, layer_size) =
        layer.with_context(|| format!("reading the changes of {}", found.record.name))?;
    let created = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    config.rootfs.diff_ids.push(layer_digest.clone());
    config.created = Some(created.clone());
    if let Some(a) = &opts.author {
        config.author = Some(a.clone());
    }
    let mut entry = json!({ "created": created, "created_by": found.record.command.join(" ") });
    if let Some(a) = &opts.author {
        entry["author"] = json!(a);
    }
    if let Some(m) = &opts.comment {
        entry["comment"] = json!(m);
    }
    config.history.get_or_insert_with(Vec::new).push(entry);
    let cfg_bytes = serde_json::to_vec(&config)?;
    let id = store.write_blob(&cfg_bytes)?;
    let mut layers = base.manifest.layers.clone();
    layers.push(descriptor(oci::OCI_LAYER_TAR, layer_digest, layer_size));
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.into()),
        config: descriptor(oci::OCI_CONFIG, id.clone(), cfg_bytes.len() as u64),
        layers,
        annotations: None,
    };
    let mdigest = store.write_blob(&serde_json::to_vec(&manifest)?)?;
    if let Some(r) = reference {
        store.put_record(ImageRecord {
            name: r.to_string(),
            digest: mdigest,
            index_digest: None,
            repo_digest: None,
            updated_at: now_unix(),
        })?;
    }
    Ok(Committed { id })
}
