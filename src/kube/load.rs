//! The project as `berth up` would run it, read with berth's own loader, and
//! the facts the conversion needs beyond it: which variables came from
//! `env_file`, and the EXPOSEd ports of images already in berth's store.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::Facts;
use crate::compose::{self, ModelError, ModelOptions, Project, ProjectOptions};

/// Why the project could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// Reading the compose files.
    #[error(transparent)]
    Load(#[from] compose::LoadError),
    /// Building the model.
    #[error("invalid compose project: {0}")]
    Model(#[from] ModelError),
}

/// The loaded project, its facts and the loader's warnings.
pub struct Loaded {
    /// The project, `env_file` folded into `environment`.
    pub project: Project,
    /// Env-file variables and image ports.
    pub facts: Facts,
    /// Warnings of the loader.
    pub warnings: Vec<String>,
}

/// Loads the project; `root` is berth's state root (its image store is only
/// read, and only when it exists).
pub fn load(
    opts: &ProjectOptions,
    services: &[String],
    root: &Path,
) -> Result<Loaded, ProjectError> {
    let raw = compose::load_raw(opts)?;
    let mut warnings: Vec<String> = raw.warnings.iter().map(|w| w.to_string()).collect();
    let (mut project, ws) = compose::build_project(
        raw,
        &ModelOptions {
            normalize: true,
            consistency: true,
            resolve_paths: true,
            resolve_environment: false,
            services: services.to_vec(),
        },
    )?;
    warnings.extend(ws.iter().map(|w| w.to_string()));
    let explicit: BTreeMap<String, BTreeSet<String>> = project
        .services
        .iter()
        .map(|(n, s)| (n.clone(), s.environment.keys().cloned().collect()))
        .collect();
    compose::env_file::resolve_services_environment(&mut project)?;
    let mut facts = Facts::default();
    for (n, s) in &project.services {
        let from_files: BTreeSet<String> = s
            .environment
            .keys()
            .filter(|k| !explicit.get(n).is_some_and(|e| e.contains(*k)))
            .cloned()
            .collect();
        if !from_files.is_empty() {
            facts.env_file_vars.insert(n.clone(), from_files);
        }
    }
    facts.image_ports = image_ports(&project, root);
    Ok(Loaded {
        project,
        facts,
        warnings,
    })
}

/// EXPOSEd ports of the project's images that are in the store. The store is
/// opened only if it exists: converting must not create berth state.
fn image_ports(project: &Project, root: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    if !root.join("images").join("index.json").is_file() {
        return out;
    }
    let Ok(store) = crate::image::Store::open(root) else {
        return out;
    };
    for svc in project.services.values() {
        let image = project.image_name(svc);
        if let Ok(img) = store.find(&image) {
            let ports: Vec<String> = img
                .config
                .config
                .as_ref()
                .and_then(|c| c.exposed_ports.as_ref())
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            if !ports.is_empty() {
                out.insert(image, ports);
            }
        }
    }
    out
}
