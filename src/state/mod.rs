//! berth's state on disk: atomic writes and the per-project lock.
//!
//! Every write is atomic (temp file, fsync, rename, fsync of the directory) so a
//! berth killed at any moment leaves either the old or the new file, never half of one.
//! What a power loss may take back without harm is not synced (each fsync is a
//! device flush on ext4 without a journal): the run dir, a container's record's
//! rename, and the files of a container a reboot makes anew (see
//! [`ContainerDir::sync_made`]).

pub mod atomic;
pub mod container_dir;
pub mod inotify;
pub mod layout;
pub mod lock;
pub mod perms;
pub mod remove_tree;
pub mod topdir;
mod xattr;

pub use atomic::{write_atomic, write_atomic_volatile, write_json_atomic, write_json_volatile};
pub use container_dir::ContainerDir;
pub use layout::Layout;
pub use lock::{lock_free, try_lock, ProjectLock};
pub use remove_tree::remove_tree;

use std::path::PathBuf;

/// An I/O failure on a state file, naming the path it touched.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A read, write, rename or lock failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A state file could not be encoded or decoded.
    #[error("state file {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The serde error.
        source: serde_json::Error,
    },
}

/// Attaches the operation and path to an I/O result.
pub(crate) trait IoContext<T> {
    /// Wraps the error with `op` and `path`.
    fn at(self, op: &'static str, path: &std::path::Path) -> Result<T, StateError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, op: &'static str, path: &std::path::Path) -> Result<T, StateError> {
        self.map_err(|source| io_error(op, path, source))
    }
}

/// An I/O error with the operation and path it happened on.
pub(crate) fn io_error(
    op: &'static str,
    path: &std::path::Path,
    source: std::io::Error,
) -> StateError {
    StateError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
