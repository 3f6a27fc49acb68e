//! Pinning image references to digests (`config --resolve-image-digests`,
//! `--lock-image-digests`, `publish --resolve-image-digests`), as compose-go's
//! `WithImagesResolved`: every service image, `pre_start` hook image and
//! `type: image` volume source that is not pinned yet becomes
//! `<full name>:<tag>@<digest>`.

use std::collections::BTreeMap;

use crate::compose::Project;
use crate::image::registry::Client;
use crate::image::{Digest, Reference, Store};

/// Why an image could not be pinned.
#[derive(Debug, thiserror::Error)]
#[error("failed to resolve digest for {image}: {reason}")]
pub struct DigestError {
    /// The reference as the compose file wrote it.
    pub image: String,
    /// What went wrong.
    pub reason: String,
}

/// Where digests come from: berth's image store first (the digest the
/// registry knows the image by, else the stored manifest's), then the registry.
pub struct Resolver<'a> {
    store: Option<&'a Store>,
    client: &'a Client,
    cache: BTreeMap<String, String>,
}

impl<'a> Resolver<'a> {
    /// A resolver reading `store` (if any) before asking registries through `client`.
    pub fn new(store: Option<&'a Store>, client: &'a Client) -> Self {
        Resolver {
            store,
            client,
            cache: BTreeMap::new(),
        }
    }

    fn digest_of(&self, r: &Reference) -> Result<Digest, String> {
        if let Some(store) = self.store {
            if let Ok(Some(rec)) = store.record(r) {
                return Ok(rec.repo_digest.or(rec.index_digest).unwrap_or(rec.digest));
            }
        }
        match self.client.head_manifest(r, &r.locator()) {
            Ok(Some(d)) => Ok(d),
            Ok(None) => self
                .client
                .get_manifest(r, &r.locator())
                .map(|m| m.digest)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// `image` pinned (unchanged when empty or already pinned).
    pub fn resolve(&mut self, image: &str) -> Result<String, DigestError> {
        if image.is_empty() {
            return Ok(String::new());
        }
        if let Some(done) = self.cache.get(image) {
            return Ok(done.clone());
        }
        let err = |reason: String| DigestError {
            image: image.to_string(),
            reason,
        };
        let mut r = Reference::parse(image).map_err(|e| err(e.to_string()))?;
        if r.digest.is_none() {
            let d = self.digest_of(&r).map_err(|e| DigestError {
                image: r.to_string(),
                reason: e,
            })?;
            r.digest = Some(d);
        }
        let pinned = r.to_string();
        self.cache.insert(image.to_string(), pinned.clone());
        Ok(pinned)
    }

    /// Pins every image of the project's enabled services.
    pub fn resolve_project(&mut self, project: &mut Project) -> Result<(), DigestError> {
        let service_names: Vec<String> = project
            .services
            .keys()
            .chain(project.disabled_services.keys())
            .cloned()
            .collect();
        for svc in project.services.values_mut() {
            svc.image = self.resolve(&svc.image)?;
            for hook in &mut svc.pre_start {
                hook.image = self.resolve(&hook.image)?;
            }
            for v in &mut svc.volumes {
                // An image volume may name another service's image by service name.
                if v.kind == "image" && !service_names.contains(&v.source) {
                    v.source = self.resolve(&v.source)?;
                }
            }
        }
        Ok(())
    }
}

/// docker compose's lock file as YAML (publish's `image-digests.yaml`).
pub fn lock_yaml(project: &Project, with_volumes: bool) -> String {
    crate::compose::output::emit_yaml(&lock_model(project, with_volumes))
}

/// docker compose's lock file: each service's image and `type: image` volumes
/// only (`config --lock-image-digests`).
pub fn lock_model(project: &Project, with_volumes: bool) -> serde_json::Value {
    let mut services = serde_json::Map::new();
    for (name, svc) in &project.services {
        let mut s = serde_json::Map::new();
        if !svc.image.is_empty() {
            s.insert("image".into(), svc.image.clone().into());
        }
        if with_volumes {
            let vols: Vec<serde_json::Value> = svc
                .volumes
                .iter()
                .filter(|v| v.kind == "image")
                .filter_map(|v| serde_json::to_value(v).ok())
                .collect();
            if !vols.is_empty() {
                s.insert("volumes".into(), vols.into());
            }
        }
        services.insert(name.clone(), s.into());
    }
    serde_json::json!({ "services": services })
}

/// The warning `--lock-image-digests` gives for each service whose `pre_start`
/// hooks run in their own image: hooks append when files merge, so a lock
/// override cannot pin them.
pub fn hooks_not_lockable(project: &Project) -> Vec<String> {
    project
        .services
        .iter()
        .filter(|(_, s)| s.pre_start.iter().any(|h| !h.image.is_empty()))
        .map(|(name, _)| {
            format!(
                "service {name:?}: pre_start hook images are not pinned in the override file produced by --lock-image-digests, use the full --resolve-image-digests output to pin them"
            )
        })
        .collect()
}
