//! Loading the project a command works on: from the compose files, or, for
//! commands that work without them (`down -p x`, `ps -p x`), from the state.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use super::graph::{service_graph, Graph};
use crate::compose::{self, hash::service_hash_in_place, ModelOptions, Project, ProjectOptions};

/// A project ready for `up`, with each service's config hash.
pub struct Loaded {
    /// The project, environment resolved.
    pub project: Project,
    /// `config --hash` per service: computed before `env_file` is folded into
    /// `environment`, as docker compose does, so the label matches `config --hash`.
    pub hashes: BTreeMap<String, String>,
    /// The services' dependency graph, built once per command.
    pub graph: Graph,
}

impl Loaded {
    /// A loaded project with its hashes; the graph is derived here.
    pub fn new(project: Project, hashes: BTreeMap<String, String>) -> Loaded {
        let graph = service_graph(&project);
        Loaded {
            project,
            hashes,
            graph,
        }
    }
}

/// Loads and checks the project as `up` needs it.
pub fn load_project(opts: &ProjectOptions, services: &[String]) -> Result<Loaded> {
    let raw = compose::load_raw(opts)?;
    for w in &raw.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let (mut project, warnings) = compose::build_project(
        raw,
        &ModelOptions {
            normalize: true,
            consistency: true,
            resolve_paths: true,
            resolve_environment: false,
            services: services.to_vec(),
        },
    )
    .context("invalid compose project")?;
    for w in warnings {
        eprintln!("WARN[0000] {w}");
    }
    let hashes = project
        .services
        .iter_mut()
        .map(|(n, s)| (n.clone(), service_hash_in_place(s)))
        .collect();
    compose::env_file::resolve_services_environment(&mut project)?;
    Ok(Loaded::new(project, hashes))
}

/// The project name a command acts on when it may run without compose files:
/// `-p`, else the name the files give.
pub fn project_name(opts: &ProjectOptions) -> Result<String> {
    if let Some(p) = &opts.project_name {
        return Ok(p.clone());
    }
    let raw = compose::load_raw(opts)?;
    Ok(raw.name)
}
