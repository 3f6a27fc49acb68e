//! STAND-IN for the raw loader (branch `loader-raw`), so `berth config`
//! compiles and runs on this branch. It reads one compose file without
//! interpolation, merge, extends or include. The lead deletes this file when
//! merging; `load_raw`, `LoadError` and the global options come from `loader-raw`.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::compose::raw::{ProjectOptions, RawProject};

/// Why the stand-in could not read the project.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No compose file given or found.
    #[error("no configuration file provided: not found")]
    NotFound,
    /// The file could not be read.
    #[error("{}: {err}", path.display())]
    Io {
        /// File path.
        path: PathBuf,
        /// The I/O error (in the message, not a separate cause).
        err: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{}: {message}", path.display())]
    Yaml {
        /// File path.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
}

const DEFAULT_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

fn normalize_name(s: &str) -> String {
    let lower = s.to_lowercase();
    let kept: String = lower
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

/// Reads the first `-f` file (or discovers `compose.yaml` in the working dir).
pub fn load_raw(opts: &ProjectOptions) -> Result<RawProject, LoadError> {
    let file: PathBuf = match opts.files.first() {
        Some(f) => {
            let p = Path::new(f);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                opts.working_dir.join(p)
            }
        }
        None => DEFAULT_FILES
            .iter()
            .map(|n| opts.working_dir.join(n))
            .find(|p| p.exists())
            .ok_or(LoadError::NotFound)?,
    };
    let text = std::fs::read_to_string(&file).map_err(|err| LoadError::Io {
        path: file.clone(),
        err,
    })?;
    let mut tree: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| LoadError::Yaml {
            path: file.clone(),
            message: e.to_string(),
        })?;
    tree.apply_merge().map_err(|e| LoadError::Yaml {
        path: file.clone(),
        message: e.to_string(),
    })?;
    let working_dir = opts
        .project_directory
        .clone()
        .or_else(|| file.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| opts.working_dir.clone());
    let name = opts
        .project_name
        .clone()
        .or_else(|| {
            tree.get("name")
                .and_then(|n| n.as_str())
                .map(normalize_name)
        })
        .unwrap_or_else(|| {
            normalize_name(
                &working_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
            )
        });
    let mut environment: IndexMap<String, String> = opts.os_env.clone();
    environment.insert("COMPOSE_PROJECT_NAME".into(), name.clone());
    Ok(RawProject {
        name,
        working_dir,
        config_files: vec![file],
        environment,
        env_files: Vec::new(),
        profiles: opts.profiles.clone(),
        tree,
        variables: IndexMap::new(),
        warnings: Vec::new(),
    })
}

/// STAND-IN global options (`-f`, `-p`, `--project-directory`, `--profile`,
/// `--env-file`); `loader-raw`'s `GlobalArgs` replaces this.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalStandin {
    /// Compose configuration files
    #[arg(short = 'f', long = "file", global = true)]
    pub file: Vec<String>,
    /// Project name
    #[arg(short = 'p', long = "project-name", global = true)]
    pub project_name: Option<String>,
    /// Specify an alternate working directory
    #[arg(long = "project-directory", global = true)]
    pub project_directory: Option<PathBuf>,
    /// Specify a profile to enable
    #[arg(long = "profile", global = true)]
    pub profile: Vec<String>,
    /// Specify an alternate environment file
    #[arg(long = "env-file", global = true)]
    pub env_file: Vec<PathBuf>,
}

impl GlobalStandin {
    /// The loader options these flags and the process environment ask for.
    pub fn to_project_options(&self) -> ProjectOptions {
        ProjectOptions {
            files: self.file.clone(),
            project_name: self.project_name.clone(),
            project_directory: self.project_directory.clone(),
            env_files: self.env_file.clone(),
            profiles: self.profile.clone(),
            interpolate: true,
            resolve_paths: true,
            working_dir: std::env::current_dir().unwrap_or_default(),
            os_env: std::env::vars().collect(),
        }
    }
}
