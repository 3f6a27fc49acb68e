//! `type: image` volumes: an image's filesystem (or one directory of it,
//! `image.subpath`) mounted read-only into a service's containers, as docker
//! mounts them. The source image is pulled when missing, and the ids of the
//! images a service mounts count in its config hash, so that a rebuilt source
//! recreates the containers that mount it (docker compose's image volume
//! digest label).
//!
//! The mount is the image's layer directories stacked by an overlay with no
//! upper directory; the runtime mounts it through a descriptor of its target,
//! like every other path inside a rootfs.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use sha2::{Digest, Sha256};

use super::images::{ensure_image, PullOverride};
use crate::compose::model::{ServiceConfig, ServiceVolumeConfig};
use crate::compose::Project;
use crate::image::{RuntimeImage, Store};
use crate::progress::Progress;
use crate::spec::MountSpec;

/// The image a volume names: an image reference, else (as docker compose
/// resolves it) the image of the project's service of that name.
fn resolve(store: &Store, project: &Project, source: &str) -> Option<RuntimeImage> {
    store.runtime_image(source).ok().or_else(|| {
        let svc = project.services.get(source)?;
        store.runtime_image(&project.image_name(svc)).ok()
    })
}

fn image_volumes(svc: &ServiceConfig) -> impl Iterator<Item = (usize, &ServiceVolumeConfig)> {
    svc.volumes
        .iter()
        .enumerate()
        .filter(|(_, v)| v.kind == "image")
}

/// Pulls the missing source images of `selected` services' image volumes, and
/// returns their config hashes with the mounted images' ids folded in (only
/// services with image volumes change).
pub fn ensure_sources(
    store: &Store,
    project: &Project,
    selected: &[String],
    hashes: &BTreeMap<String, String>,
    progress: &Progress,
) -> Result<BTreeMap<String, String>> {
    let mut out = hashes.clone();
    for name in selected {
        let Some(svc) = project.services.get(name) else {
            continue;
        };
        let mut ids: Vec<String> = vec![];
        for (i, v) in image_volumes(svc) {
            if v.source.is_empty() {
                bail!("services.{name}.volumes[{i}]: an image volume needs a source image");
            }
            let img = match resolve(store, project, &v.source) {
                Some(img) => img,
                None => {
                    // docker compose pulls it as a service of its own.
                    let puller = ServiceConfig {
                        name: format!("{name}:volume {i}"),
                        image: v.source.clone(),
                        ..Default::default()
                    };
                    ensure_image(store, project, &puller, PullOverride::default(), &|image| {
                        Some(progress.task(&format!("Image {image}"), "Pulling"))
                    })?
                }
            };
            ids.push(format!("{}={}", v.target, img.id));
        }
        if ids.is_empty() {
            continue;
        }
        ids.sort();
        let base = out.get(name).cloned().unwrap_or_default();
        let digest = Sha256::digest(format!("{base}\n{}", ids.join(",")).as_bytes());
        out.insert(name.clone(), crate::image::digest::to_hex(&digest));
    }
    Ok(out)
}

/// The pin owner under which a container keeps the images its image volumes
/// mount (image garbage collection spares them; `discard` drops it).
pub fn pin_owner(container_id: &str) -> String {
    format!("{container_id}-image-volumes")
}

/// The mount of volume `v` (the `i`th of `svc`) at `target`, and the manifest
/// digest of the image it mounts (to pin).
pub fn mount_spec(
    store: &Store,
    project: &Project,
    svc: &ServiceConfig,
    i: usize,
    v: &ServiceVolumeConfig,
    target: String,
) -> Result<(MountSpec, crate::image::Digest)> {
    let at = format!("services.{}.volumes[{i}]", svc.name);
    let img = resolve(store, project, &v.source)
        .ok_or_else(|| anyhow!("{at}: image {:?} not found", v.source))?;
    let sub = v.image.as_ref().map(|o| o.subpath.as_str()).unwrap_or("");
    let sub = relative(sub).ok_or_else(|| anyhow!("{at}: subpath {sub:?} leaves the image"))?;
    let lowers = layers_at(&img.lower_dirs_top_first(), &sub);
    for l in &lowers {
        // overlayfs splits its options on ',' and its lower dirs on ':'.
        if l.to_string_lossy().contains([',', ':']) {
            bail!("{at}: layer path {} contains ',' or ':'", l.display());
        }
    }
    let spec = match lowers.len() {
        0 => bail!(
            "{at}: {:?} is not a directory of image {}",
            sub.display().to_string(),
            v.source
        ),
        1 => MountSpec::Bind {
            source: lowers.into_iter().next().unwrap_or_default(),
            target,
            read_only: true,
            propagation: None,
        },
        _ => MountSpec::Layers { lowers, target },
    };
    Ok((spec, img.manifest_digest))
}

/// `sub` as a path relative to the image's root; `None` when it climbs out.
fn relative(sub: &str) -> Option<PathBuf> {
    let mut p = PathBuf::new();
    for c in Path::new(sub).components() {
        match c {
            Component::Normal(n) => p.push(n),
            Component::CurDir | Component::RootDir => {}
            _ => return None,
        }
    }
    Some(p)
}

/// The directories `sub` is in each layer (top first) that the merged image
/// shows: a whiteout of it (or of a directory above it) in a layer hides the
/// layers below, and so does an opaque directory, after its own content. A
/// symlink on the way is not followed: it stops the search, as the path is
/// then no directory of the image's own.
fn layers_at(layers: &[PathBuf], sub: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for layer in layers {
        let mut path = layer.clone();
        let mut hidden_below = false;
        let mut present = true;
        for c in sub.components() {
            path.push(c);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if is_whiteout(&m) => return out,
                Ok(m) if m.file_type().is_symlink() || !m.is_dir() => return out,
                Ok(_) => hidden_below |= crate::image::unpack::is_opaque(&path),
                Err(_) => {
                    present = false;
                    break;
                }
            }
        }
        if present {
            if sub.as_os_str().is_empty() {
                hidden_below |= crate::image::unpack::is_opaque(&path);
            }
            out.push(path);
        }
        if hidden_below {
            break;
        }
    }
    out
}

/// An overlay whiteout: a character device 0/0.
fn is_whiteout(m: &std::fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subpaths_stay_inside_the_image() {
        assert_eq!(relative("usr/share/"), Some(PathBuf::from("usr/share")));
        assert_eq!(relative("/app"), Some(PathBuf::from("app")));
        assert_eq!(relative(""), Some(PathBuf::new()));
        assert_eq!(relative("a/../../etc"), None);
    }

    #[test]
    fn layers_without_the_directory_and_below_a_file_are_left_out() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("top");
        let mid = d.path().join("mid");
        let low = d.path().join("low");
        std::fs::create_dir_all(top.join("app")).unwrap();
        std::fs::create_dir_all(&mid).unwrap();
        std::fs::create_dir_all(low.join("app")).unwrap();
        let layers = vec![top.clone(), mid.clone(), low.clone()];
        assert_eq!(
            layers_at(&layers, Path::new("app")),
            vec![top.join("app"), low.join("app")]
        );
        // A file where a lower layer has the directory hides it.
        std::fs::write(mid.join("app"), "x").unwrap();
        assert_eq!(layers_at(&layers, Path::new("app")), vec![top.join("app")]);
        assert_eq!(layers_at(&layers, Path::new("")), layers);
    }
}
