//! The seam between the raw loader (files, env, interpolation, merge, extends,
//! include) and the model builder (typed model, canonical forms, normalization,
//! validation, hash).

use std::path::PathBuf;

use indexmap::IndexMap;

/// What a user asked for on the command line and in the environment.
#[derive(Debug, Clone, Default)]
pub struct ProjectOptions {
    /// `-f` values as given, in order; `-` is stdin; empty means discover.
    pub files: Vec<String>,
    /// `-p`, if given.
    pub project_name: Option<String>,
    /// `--project-directory`, if given.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` values, in order.
    pub env_files: Vec<PathBuf>,
    /// `--profile` values, in order.
    pub profiles: Vec<String>,
    /// False with `--no-interpolate`.
    pub interpolate: bool,
    /// False with `--no-path-resolution`.
    pub resolve_paths: bool,
    /// The directory berth was started in.
    pub working_dir: PathBuf,
    /// The process environment (tests pass their own).
    pub os_env: IndexMap<String, String>,
}

/// How one `${…}` reference uses a variable (for `config --variables`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariableUse {
    /// `${V:?…}` or `${V?…}` somewhere in the files.
    pub required: bool,
    /// The default from `${V:-d}` or `${V-d}`, if any.
    pub default_value: Option<String>,
    /// The replacement from `${V:+r}` or `${V+r}`, if any.
    pub alternate_value: Option<String>,
}

/// One merged, interpolated compose tree with everything around it.
#[derive(Debug, Clone)]
pub struct RawProject {
    /// The project name, already normalized and checked.
    pub name: String,
    /// The project directory (absolute).
    pub working_dir: PathBuf,
    /// The compose files that were read, absolute, in order (`-` for stdin).
    pub config_files: Vec<PathBuf>,
    /// The environment used for interpolation: OS env over env files.
    pub environment: IndexMap<String, String>,
    /// The env files that were read, in order.
    pub env_files: Vec<PathBuf>,
    /// The active profiles (`--profile`, `COMPOSE_PROFILES`).
    pub profiles: Vec<String>,
    /// The merged tree: a mapping with `services`, `networks`, `volumes`, … as
    /// the files wrote them (short syntax kept); `!reset`/`!override` applied,
    /// `extends` and `include` resolved, relative paths from other files made
    /// relative to the project directory (absolute when `resolve_paths`).
    pub tree: serde_yaml_ng::Value,
    /// Variables the files reference, by name.
    pub variables: IndexMap<String, VariableUse>,
    /// Warnings to print to stderr (unset variables, obsolete `version`, …).
    pub warnings: Vec<String>,
}
