//! `--push`: images berth built exist only in its store. Push each one (as
//! `berth image push` does) and let the manifests pin what was pushed,
//! `reference@digest`, so the cluster runs exactly the image berth built.

use std::collections::BTreeMap;
use std::path::Path;

use crate::compose::Project;
use crate::image::{self, Client, Reference, RegistryOptions, Store};

/// Why a built image could not be pushed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The image is not in berth's store: it was never built.
    #[error("service {service:?}: image {image:?} is not in berth's store; build it first (berth build {service})")]
    NotBuilt {
        /// The compose service.
        service: String,
        /// Its image reference.
        image: String,
    },
    /// The reference is not one a registry takes.
    #[error("service {service:?}: image {image:?}: {message}")]
    Reference {
        /// The compose service.
        service: String,
        /// Its image reference.
        image: String,
        /// What is wrong.
        message: String,
    },
    /// The push itself failed.
    #[error("service {service:?}: pushing {image}: {message}")]
    Push {
        /// The compose service.
        service: String,
        /// Its image reference.
        image: String,
        /// What the registry or the store said.
        message: String,
    },
}

/// Pushes the image of every service in `services` that has a `build`
/// section; returns service → pushed reference with its digest.
pub fn push_built(
    project: &Project,
    services: &[String],
    root: &Path,
    on_pushed: &dyn Fn(&str),
) -> Result<BTreeMap<String, String>, PushError> {
    let mut out = BTreeMap::new();
    // The same services the conversion takes: the named ones and their dependencies.
    let selected = super::select(project, services).map_err(|e| PushError::Reference {
        service: services.join(","),
        image: String::new(),
        message: e.to_string(),
    })?;
    let built: Vec<_> = project
        .services
        .iter()
        .filter(|(n, s)| s.build.is_some() && selected.contains(*n))
        .collect();
    if built.is_empty() {
        return Ok(out);
    }
    let not_built = |service: &str, image: &str| PushError::NotBuilt {
        service: service.to_string(),
        image: image.to_string(),
    };
    for (name, svc) in built {
        let image_name = project.image_name(svc);
        if !root.join("images").join("index.json").is_file() {
            return Err(not_built(name, &image_name));
        }
        let store = Store::open(root).map_err(|e| PushError::Push {
            service: name.clone(),
            image: image_name.clone(),
            message: e.to_string(),
        })?;
        let r = Reference::parse(&image_name).map_err(|e| PushError::Reference {
            service: name.clone(),
            image: image_name.clone(),
            message: e.to_string(),
        })?;
        let img = store
            .find(&r.to_string())
            .map_err(|_| not_built(name, &image_name))?;
        let client = Client::new(RegistryOptions::default());
        let rep = image::push::push(&store, &client, &img, &r, &|_, _| {}).map_err(|e| {
            PushError::Push {
                service: name.clone(),
                image: image_name.clone(),
                message: e.to_string(),
            }
        })?;
        let pinned = format!("{image_name}@{}", rep.digest);
        on_pushed(&pinned);
        out.insert(name.clone(), pinned);
    }
    Ok(out)
}
