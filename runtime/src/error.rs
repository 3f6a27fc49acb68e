//! One error type for the crate; I/O errors carry the path or the operation they touched.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed on `path`.
    #[error("{op} {path}: {source}")]
    Path {
        /// What was attempted ("open", "mount", "write", ...).
        op: &'static str,
        /// The path it was attempted on.
        path: PathBuf,
        /// The kernel's answer.
        source: io::Error,
    },
    /// A system call that touches no path failed.
    #[error("{op}: {source}")]
    Sys {
        /// The system call or step.
        op: &'static str,
        /// The kernel's answer.
        source: io::Error,
    },
    /// The OCI spec asks for something invalid or unsupported.
    #[error("invalid spec: {0}")]
    Spec(String),
    /// The container is not in a state that allows the operation.
    #[error("container {id} is {status}, cannot {op}")]
    State {
        /// Container id.
        id: String,
        /// Its current status.
        status: String,
        /// The refused operation.
        op: &'static str,
    },
    /// No container with this id in the state dir.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// The sync channel between the runtime and its init failed or carried garbage.
    #[error("channel: {0}")]
    Channel(String),
    /// The container's init reported a failure.
    #[error("container init: {0}")]
    Init(String),
    /// An OCI hook failed, timed out or could not be started.
    #[error("{kind} hook {index} ({path}): {reason}")]
    Hook {
        /// The hook list ("prestart", "createRuntime", ...).
        kind: &'static str,
        /// Position in that list.
        index: usize,
        /// The hook's executable.
        path: PathBuf,
        /// What happened.
        reason: String,
    },
    /// Reading or writing state.json failed.
    #[error("state {path}: {source}")]
    Json {
        /// The state file.
        path: PathBuf,
        /// The serde error.
        source: serde_json::Error,
    },
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Build a `Path` error from the last OS error.
    pub(crate) fn last(op: &'static str, path: impl Into<PathBuf>) -> Self {
        Error::Path {
            op,
            path: path.into(),
            source: io::Error::last_os_error(),
        }
    }

    /// Build a `Sys` error from the last OS error.
    pub(crate) fn sys(op: &'static str) -> Self {
        Error::Sys {
            op,
            source: io::Error::last_os_error(),
        }
    }

    /// Whether the container was refused because it is stopped (its init has
    /// ended), as opposed to a failure of the operation itself.
    pub fn is_stopped(&self) -> bool {
        matches!(self, Error::State { status, .. } if *status == crate::container::Status::Stopped.to_string())
    }

    /// The raw errno when the error came from the kernel.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Path { source, .. } | Error::Sys { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// Attach a path to an `io::Result`.
pub(crate) trait WrapIo<T> {
    /// Turn an io error into `Error::Path` with `op` and `path`.
    fn at(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> WrapIo<T> for io::Result<T> {
    fn at(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Path {
            op,
            path: path.into(),
            source,
        })
    }
}
