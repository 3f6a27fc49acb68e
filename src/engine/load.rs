//! Loading the project a command works on: from the compose files, or, for
//! commands that work without them (`down -p x`, `ps -p x`), from the state.

use anyhow::{Context as _, Result};

use crate::compose::{self, ModelOptions, Project, ProjectOptions};

/// Loads and checks the project as `up` needs it: normalized, consistent, env resolved.
pub fn load_project(opts: &ProjectOptions, services: &[String]) -> Result<Project> {
    let raw = compose::load_raw(opts)?;
    for w in &raw.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let (project, warnings) = compose::build_project(
        raw,
        &ModelOptions {
            normalize: true,
            consistency: true,
            resolve_paths: true,
            resolve_environment: true,
            services: services.to_vec(),
        },
    )
    .context("invalid compose project")?;
    for w in warnings {
        eprintln!("WARN[0000] {w}");
    }
    Ok(project)
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
