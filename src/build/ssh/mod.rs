//! SSH agent forwarding for builds: what `berth build --ssh ID=PATH[,PATH]`,
//! `--ssh default` and compose's `build.ssh` give, and what a
//! `RUN --mount=type=ssh` step then reaches.
//!
//! An id given key files is served by berth's own agent ([`agent`], keys read
//! by [`keys`]); an id given a socket (or `default`, `$SSH_AUTH_SOCK`) is
//! forwarded to that agent. Either way the step sees a socket that exists only
//! while it runs ([`serve`]). As in BuildKit, the ids and where they are mounted
//! are part of the step's cache key, the keys themselves are not.

pub mod agent;
pub mod keys;
pub mod serve;
pub mod wire;

use std::path::PathBuf;
use std::sync::Arc;

/// The id a mount without `id=` uses, and `--ssh default`.
pub const DEFAULT_ID: &str = "default";

/// One `--ssh` value or compose `build.ssh` entry, not yet read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSpec {
    /// The id `RUN --mount=type=ssh,id=…` names.
    pub id: String,
    /// Key files, or one agent socket; empty for `$SSH_AUTH_SOCK`.
    pub paths: Vec<PathBuf>,
}

/// An id ready to serve: its keys loaded, or its socket found.
#[derive(Debug, Clone)]
pub struct Source {
    /// The id.
    pub id: String,
    /// What answers on it.
    pub kind: Kind,
}

/// What answers a step's agent requests.
#[derive(Debug, Clone)]
pub enum Kind {
    /// berth's agent over these keys.
    Keys(Arc<agent::Keyring>),
    /// The user's agent at this socket.
    Socket(PathBuf),
}

/// Why an `--ssh` value cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// `--ssh ID` without a path (only `default` may omit it).
    #[error("invalid ssh key {0:?}")]
    Spec(String),
    /// No path and no `$SSH_AUTH_SOCK` (BuildKit's sshprovider words it so).
    #[error("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set")]
    NoAgent,
    /// A path that is neither a socket nor a readable file.
    #[error("ssh {id}: {path}: {source}")]
    Path {
        /// The id.
        id: String,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Sockets and key files mixed, or several sockets.
    #[error("ssh {id}: {why}")]
    Mixed {
        /// The id.
        id: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A key file berth cannot use.
    #[error("ssh {id}: {source}")]
    Key {
        /// The id.
        id: String,
        /// Why.
        source: keys::KeyError,
    },
}

impl SshSpec {
    /// `--ssh` as docker compose reads it: `default` (also what an empty value
    /// means) or `ID=PATH[,PATH…]`.
    pub fn parse_flag(value: &str) -> Result<SshSpec, SshError> {
        let value = if value.is_empty() { DEFAULT_ID } else { value };
        match value.split_once('=') {
            Some((id, paths)) => Ok(SshSpec::new(id, paths)),
            None if value == DEFAULT_ID => Ok(SshSpec::new(DEFAULT_ID, "")),
            None => Err(SshError::Spec(value.to_string())),
        }
    }

    /// An id and its comma-separated paths (compose's `id: path`).
    pub fn new(id: &str, paths: &str) -> SshSpec {
        SshSpec {
            id: if id.is_empty() { DEFAULT_ID } else { id }.to_string(),
            paths: paths
                .split(',')
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect(),
        }
    }

    /// Loads the keys or finds the socket, as BuildKit's sshprovider does at
    /// the start of a build: a missing file or a bad key fails the build there.
    pub fn resolve(&self) -> Result<Source, SshError> {
        use std::os::unix::fs::FileTypeExt;
        let paths = if self.paths.is_empty() {
            match std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) {
                Some(s) => vec![PathBuf::from(s)],
                None => return Err(SshError::NoAgent),
            }
        } else {
            self.paths.clone()
        };
        let mut socket = None;
        let mut ring = agent::Keyring::default();
        for p in &paths {
            let meta = std::fs::metadata(p).map_err(|source| SshError::Path {
                id: self.id.clone(),
                path: p.clone(),
                source,
            })?;
            let mixed = |why| SshError::Mixed {
                id: self.id.clone(),
                why,
            };
            if meta.file_type().is_socket() {
                if socket.is_some() {
                    return Err(mixed("only one agent socket per id"));
                }
                if !ring.keys.is_empty() {
                    return Err(mixed("an id is either key files or one agent socket"));
                }
                socket = Some(p.clone());
                continue;
            }
            if socket.is_some() {
                return Err(mixed("an id is either key files or one agent socket"));
            }
            ring.keys
                .push(keys::Key::load(p).map_err(|source| SshError::Key {
                    id: self.id.clone(),
                    source,
                })?);
        }
        let kind = match socket {
            Some(s) => Kind::Socket(s),
            None => Kind::Keys(Arc::new(ring)),
        };
        Ok(Source {
            id: self.id.clone(),
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_as_docker_compose_reads_them() {
        assert_eq!(
            SshSpec::parse_flag("").unwrap(),
            SshSpec::new("default", "")
        );
        assert_eq!(
            SshSpec::parse_flag("default").unwrap(),
            SshSpec::new("default", "")
        );
        let s = SshSpec::parse_flag("fake-ssh=./a,/b").unwrap();
        assert_eq!(s.id, "fake-ssh");
        assert_eq!(s.paths, [PathBuf::from("./a"), PathBuf::from("/b")]);
        let e = SshSpec::parse_flag("mykey").unwrap_err().to_string();
        assert_eq!(e, "invalid ssh key \"mykey\"");
    }

    #[test]
    fn missing_paths_name_the_id() {
        let e = SshSpec::new("x", "/nonexistent/key")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("ssh x: /nonexistent/key"), "{e}");
    }
}
