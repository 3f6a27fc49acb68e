//! What every project command starts from: the state layout, the project options,
//! and the progress display.

use std::path::PathBuf;

use anyhow::Result;

use super::GlobalArgs;
use crate::compose::ProjectOptions;
use crate::engine::load::{load_project, project_name, Loaded};
use crate::progress::{Mode, Progress};
use crate::state::Layout;

/// Fails with docker compose's `no such service: X` for a name `project` lacks;
/// services disabled by their profiles count as known.
pub fn check_services(project: &crate::compose::Project, services: &[String]) -> Result<()> {
    let known =
        |s: &String| project.services.contains_key(s) || project.disabled_services.contains_key(s);
    match services.iter().find(|s| !known(s)) {
        Some(s) => anyhow::bail!("no such service: {s}"),
        None => Ok(()),
    }
}

/// The command's surroundings.
pub struct Ctx {
    /// Where berth keeps state.
    pub layout: Layout,
    /// `-f`, `-p`, … as loader options.
    pub opts: ProjectOptions,
    /// `--progress`.
    pub progress_mode: Mode,
    /// `--all-resources`.
    pub all_resources: bool,
}

impl Ctx {
    /// Builds the context from the global options.
    pub fn new(global: &GlobalArgs, root: &std::path::Path, run: Option<&PathBuf>) -> Ctx {
        let progress = global
            .progress
            .as_ref()
            .map(|p| format!("{p:?}").to_lowercase());
        Ctx {
            layout: Layout::new(root, run.map(|p| p.as_path())),
            opts: global.project_options(),
            progress_mode: Mode::from_flag(progress.as_deref()),
            all_resources: global.all_resources,
        }
    }

    /// A progress display for `operation`.
    pub fn progress(&self, operation: &str) -> Progress {
        Progress::new(self.progress_mode, operation)
    }

    /// The services named on the command line, patterns (`'web*'`) replaced by
    /// the active services they match, as docker compose selects them.
    pub fn select(&self, services: &[String]) -> Result<Vec<String>> {
        if !services
            .iter()
            .any(|s| crate::compose::select::is_pattern(s))
        {
            return Ok(services.to_vec());
        }
        let known = self.load(&[])?.project.service_names();
        Ok(crate::compose::select::expand(services, &known))
    }

    /// Loads the compose project (for `up`, `create`, …).
    pub fn load(&self, services: &[String]) -> Result<Loaded> {
        load_project(&self.opts, services)
    }

    /// The project name, and the project when its files can be read: commands
    /// like `down -p x` work without the files, as docker compose's do.
    pub fn project_maybe(&self) -> Result<(String, Option<crate::compose::Project>)> {
        match load_project(&self.opts, &[]) {
            Ok(l) => Ok((l.project.name.clone(), Some(l.project))),
            Err(e) => match &self.opts.project_name {
                Some(p) => Ok((p.clone(), None)),
                None => match project_name(&self.opts) {
                    Ok(n) => Ok((n, None)),
                    Err(_) => Err(e),
                },
            },
        }
    }
}
