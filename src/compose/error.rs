//! The one error type of the raw loader: every message names the file and, where
//! there is one, the key path, what was expected and what was found.

use std::path::PathBuf;

/// Why loading compose files failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read (or a directory was found where a file was expected).
    #[error("{path}: {source}")]
    Io {
        /// The file that was touched.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No compose file was given and none was found upward from the working dir.
    #[error("no configuration file provided: not found")]
    NoConfigFile,
    /// A file is not valid YAML (syntax, duplicate key, alias bomb, …).
    #[error("failed to parse {file}: {message}")]
    Yaml {
        /// The compose file.
        file: PathBuf,
        /// What the parser said, with the line.
        message: String,
    },
    /// A value has the wrong shape at a key path.
    #[error("{file}: {path}: {message}")]
    Invalid {
        /// The compose file (or the project when several were merged).
        file: PathBuf,
        /// The key path, e.g. `services.web.ports[1]`.
        path: String,
        /// What was expected and what was found.
        message: String,
    },
    /// `${…}` could not be evaluated.
    #[error("{file}: {message}")]
    Interpolation {
        /// The compose file.
        file: PathBuf,
        /// compose-go's message, naming the key path.
        message: String,
    },
    /// A `.env` or `--env-file` file is malformed or missing.
    #[error("failed to read {file}: {message}")]
    EnvFile {
        /// The env file.
        file: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// A list entry cannot be identified (merge, `EnforceUnicity`); the message
    /// names the key path.
    #[error("{file}: {message}")]
    Entry {
        /// The compose file being merged in.
        file: PathBuf,
        /// What is wrong, with the key path.
        message: String,
    },
    /// The merged files define nothing.
    #[error("empty compose file")]
    EmptyFile,
    /// A `-p` / `COMPOSE_PROJECT_NAME` value that is not already normalized.
    #[error("invalid project name {0:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number")]
    InvalidProjectName(String),
    /// No name could be derived for the project.
    #[error("project name must not be empty")]
    EmptyProjectName,
    /// An `include` chain comes back to a file already being included.
    #[error("include cycle detected:\n{}", .0.join("\n include "))]
    IncludeCycle(Vec<String>),
    /// An `extends` chain comes back to a service already being extended.
    #[error("circular reference:\n  {}", .0.join("\n  extends "))]
    ExtendsCycle(Vec<String>),
    /// `extends` names a service that does not exist.
    #[error("{file}: cannot extend service {service:?}: service {service:?} not found")]
    ExtendsNotFound {
        /// The file that should hold the service.
        file: PathBuf,
        /// The missing service.
        service: String,
    },
    /// Merging two files met two incompatible shapes at one path.
    #[error("{file}: cannot override {path}")]
    Merge {
        /// The file being merged in.
        file: PathBuf,
        /// The key path.
        path: String,
    },
}

impl LoadError {
    /// Wraps an I/O error with the path it touched.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LoadError::Io {
            path: path.into(),
            source,
        }
    }

    /// A value of the wrong shape at `path` in `file`.
    pub fn invalid(
        file: impl Into<PathBuf>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        LoadError::Invalid {
            file: file.into(),
            path: path.into(),
            message: message.into(),
        }
    }
}
