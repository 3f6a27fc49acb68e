//! `<root>/volumes/<name>/`: `_data` holds the data, `volume.json` what it is.

use std::fs;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::state::perms::create_shared_dir;
use crate::state::{io_error, write_json_atomic, IoContext, StateError};

/// What berth keeps about a named volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeInfo {
    /// The volume's full name (`proj_data`, or its `name:`).
    pub name: String,
    /// Labels, docker compose's among them (`com.docker.compose.project`, `…volume`).
    pub labels: IndexMap<String, String>,
    /// When it was made, RFC 3339.
    pub created: String,
    /// Whether the image's content was copied in on first use (done once).
    pub populated: bool,
}

/// The volumes of one state root.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    dir: PathBuf,
}

/// A volume name that could escape the volumes directory or is not docker's form.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// Not `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
    #[error("invalid volume name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    /// The state files failed.
    #[error(transparent)]
    State(#[from] StateError),
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl VolumeStore {
    /// The volumes under `root`.
    pub fn new(root: &Path) -> VolumeStore {
        VolumeStore {
            dir: root.join("volumes"),
        }
    }

    /// The directory a container mounts for volume `name`.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    /// Reads a volume's record, if the volume exists.
    pub fn get(&self, name: &str) -> Result<Option<VolumeInfo>, VolumeError> {
        if !valid_name(name) {
            return Err(VolumeError::InvalidName(name.into()));
        }
        let path = self.dir.join(name).join("volume.json");
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|source| {
                StateError::Json {
                    path: path.clone(),
                    source,
                }
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("read", &path, e).into()),
        }
    }

    /// Makes the volume if it does not exist; returns its record and whether it was new.
    pub fn ensure(
        &self,
        name: &str,
        labels: IndexMap<String, String>,
    ) -> Result<(VolumeInfo, bool), VolumeError> {
        if let Some(v) = self.get(name)? {
            return Ok((v, false));
        }
        let data = self.data_dir(name);
        // The volume's root as the container sees it before any copy-up: docker's 0755.
        create_shared_dir(&data).at("create directory", &data)?;
        let info = VolumeInfo {
            name: name.into(),
            labels,
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            populated: false,
        };
        // The record is written last: a volume without one is half-made and is made again.
        self.save(&info)?;
        Ok((info, true))
    }

    /// Rewrites a volume's record.
    pub fn save(&self, info: &VolumeInfo) -> Result<(), VolumeError> {
        Ok(write_json_atomic(
            &self.dir.join(&info.name).join("volume.json"),
            info,
        )?)
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<VolumeInfo>, VolumeError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(io_error("list", &self.dir, e).into()),
        };
        let mut out = vec![];
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Ok(Some(v)) = self.get(&name) {
                out.push(v);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes a volume and its data; a missing volume is not an error.
    pub fn remove(&self, name: &str) -> Result<(), VolumeError> {
        if !valid_name(name) {
            return Err(VolumeError::InvalidName(name.into()));
        }
        let dir = self.dir.join(name);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("remove", &dir, e).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_is_idempotent_and_remove_takes_the_data() {
        let root = tempfile::tempdir().unwrap();
        let store = VolumeStore::new(root.path());
        let (v, new) = store.ensure("p_data", IndexMap::new()).unwrap();
        assert!(new && !v.populated);
        fs::write(store.data_dir("p_data").join("f"), b"x").unwrap();
        let (_, new) = store.ensure("p_data", IndexMap::new()).unwrap();
        assert!(!new);
        assert_eq!(fs::read(store.data_dir("p_data").join("f")).unwrap(), b"x");
        assert_eq!(store.list().unwrap().len(), 1);
        store.remove("p_data").unwrap();
        assert!(store.list().unwrap().is_empty());
        store.remove("p_data").unwrap();
    }

    #[test]
    fn names_cannot_escape() {
        let root = tempfile::tempdir().unwrap();
        let store = VolumeStore::new(root.path());
        for bad in ["../x", "", "a/b", ".hidden", "-x"] {
            assert!(store.ensure(bad, IndexMap::new()).is_err(), "{bad}");
        }
    }
}
