//! From the raw tree to the typed project: the model half of the loader.

use std::fmt;

use serde_yaml_ng::Value;

use crate::compose::model::{self, Project};
use crate::compose::raw::RawProject;
use crate::compose::{env_file, normalize, profiles, transform, validate};

/// How far `build_project` goes beyond decoding.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Apply compose-go's normalization (default network, implicit depends_on,
    /// resource names, build defaults); off with `config --no-normalize`.
    pub normalize: bool,
    /// Check references, exclusive keys and cycles; off with `--no-consistency`.
    pub consistency: bool,
    /// Make relative host paths absolute against the project directory.
    pub resolve_paths: bool,
    /// Merge `env_file` contents into `environment` and drop `env_file`.
    pub resolve_environment: bool,
    /// Services named on the command line: enabled even if their profile is not.
    pub services: Vec<String>,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            normalize: true,
            consistency: true,
            resolve_paths: true,
            resolve_environment: true,
            services: Vec::new(),
        }
    }
}

/// Something the user should know that does not stop loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub String);

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a raw tree could not become a project.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A value has the wrong shape or type.
    #[error("{file}: {path}: {message}")]
    Invalid {
        /// The compose file(s) the project came from.
        file: String,
        /// Key path such as `services.web.ports[1]`.
        path: String,
        /// What was expected and what was found.
        message: String,
    },
    /// The model is well formed but inconsistent (undefined reference, …).
    #[error("{0}")]
    Consistency(String),
    /// `depends_on` forms a cycle.
    #[error("dependency cycle detected: {0}")]
    Cycle(String),
    /// A service named on the command line does not exist.
    #[error("no such service: {0}")]
    NoSuchService(String),
    /// An env file could not be read.
    #[error("{0}")]
    EnvFile(String),
}

fn files_label(raw: &RawProject) -> String {
    if raw.config_files.is_empty() {
        "compose file".into()
    } else {
        raw.config_files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Turns the raw tree into the typed, canonical, normalized, checked project.
pub fn build_project(
    raw: RawProject,
    opts: &ModelOptions,
) -> Result<(Project, Vec<Warning>), ModelError> {
    let file = files_label(&raw);
    let invalid = |path: String, message: String| ModelError::Invalid {
        file: file.clone(),
        path,
        message,
    };
    let mut warnings: Vec<Warning> = Vec::new();
    let RawProject {
        name,
        working_dir,
        config_files,
        environment,
        profiles,
        mut tree,
        ..
    } = raw;
    if tree.is_null() {
        tree = Value::Mapping(Default::default());
    }
    let _ = model::cast::take_warnings();
    transform::canonicalize(&mut tree).map_err(|e| invalid(e.path, e.message))?;
    if let Value::Mapping(top) = &mut tree {
        // The raw loader has already warned about `version` and resolved `include`.
        top.remove("version");
        top.remove("include");
        top.insert(Value::String("name".into()), Value::String(name.clone()));
    }
    validate::check_keys(&tree).map_err(|e| invalid(e.path, e.message))?;
    let mut project: Project = serde_path_to_error::deserialize(tree).map_err(|e| {
        let path = e.path().to_string();
        invalid(path, e.into_inner().to_string())
    })?;
    warnings.extend(model::cast::take_warnings().into_iter().map(Warning));
    for (name, s) in project.services.iter_mut() {
        s.name = name.clone();
    }
    project.name = name;
    project.working_dir = working_dir;
    project.compose_files = config_files;
    project.environment = environment.into_iter().collect();
    normalize::resolve_bare_environment(&mut project);

    if opts.normalize {
        normalize::normalize(&mut project, opts.resolve_paths);
    }
    profiles::apply_profiles(&mut project, &profiles);
    if !opts.services.is_empty() {
        profiles::select_services(&mut project, &opts.services)?;
    }
    validate::check_cycles(&project)?;
    if opts.consistency {
        validate::check_consistency(&mut project)?;
    }
    if opts.resolve_environment {
        env_file::resolve_services_environment(&mut project)?;
    }
    Ok((project, warnings))
}
