//! Errors of the netns crate: one enum, io errors carry the path or step they touched.

use std::fmt;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while building or tearing down container networking.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we were doing.
        op: &'static str,
        /// The path we touched.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{op}: {source}")]
    Sys {
        /// What we were doing.
        op: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The kernel refused a netlink request.
    #[error("netlink {op}: {source}")]
    Netlink {
        /// The request.
        op: String,
        /// The errno the kernel returned.
        source: std::io::Error,
    },
    /// A netlink reply could not be decoded.
    #[error("netlink decode: {0}")]
    Decode(String),
    /// `nft` refused a ruleset.
    #[error("nft: {0}")]
    Nft(String),
    /// The caller asked for something invalid.
    #[error("{0}")]
    Invalid(String),
    /// No free subnet or address was left.
    #[error("{0}")]
    Exhausted(String),
    /// State on disk could not be parsed.
    #[error("state {path}: {source}")]
    State {
        /// The state file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// Several steps of a teardown failed; every one is kept.
    #[error("{0}")]
    List(ErrorList),
}

impl Error {
    /// Name the netlink request more precisely (which link, which address).
    pub(crate) fn netlink_op(self, op: impl FnOnce() -> String) -> Error {
        match self {
            Error::Netlink { source, .. } => Error::Netlink { op: op(), source },
            e => e,
        }
    }

    /// The raw errno behind this error, if there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. }
            | Error::Sys { source, .. }
            | Error::Netlink { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// Helpers to attach a path to an io error.
pub(crate) trait IoContext<T> {
    fn at(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            op,
            path: path.into(),
            source,
        })
    }
}

/// Failures collected by a teardown that keeps going after the first one.
#[derive(Debug, Default)]
pub struct ErrorList(pub Vec<Error>);

impl ErrorList {
    /// Record the error of one step, if any.
    pub fn push<T>(&mut self, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(error = %e, "teardown step failed");
                self.0.push(e);
                None
            }
        }
    }

    /// Ok when no step failed.
    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else if self.0.len() == 1 {
            Err(self.0.into_iter().next().expect("one error"))
        } else {
            Err(Error::List(self))
        }
    }
}

impl fmt::Display for ErrorList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
