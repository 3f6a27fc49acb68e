//! What a watcher remembers between runs, so a gap (watch not running, a
//! crash) loses nothing: when it last looked at the host, and which host paths
//! it has put into containers (to delete them there when they are gone here).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::state::Layout;

/// The per-project watch directory.
pub fn dir(layout: &Layout, project: &str) -> PathBuf {
    layout.root.join("watch").join(project)
}

/// The detached watcher's log.
pub fn log_path(layout: &Layout, project: &str) -> PathBuf {
    dir(layout, project).join("watch.log")
}

/// Held by the one watcher of a project.
pub fn lock_path(layout: &Layout, project: &str) -> PathBuf {
    dir(layout, project).join("watch.lock")
}

/// The detached watcher's pid.
pub fn pid_path(layout: &Layout, project: &str) -> PathBuf {
    dir(layout, project).join("watch.pid")
}

/// `state.json`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct State {
    /// Seconds since the epoch up to which every host change was handled
    /// (`None`: never watched).
    pub seen_until: Option<f64>,
    /// Host paths synced into containers.
    pub synced: BTreeSet<PathBuf>,
}

/// Now, in seconds since the epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl State {
    fn path(layout: &Layout, project: &str) -> PathBuf {
        dir(layout, project).join("state.json")
    }

    /// Reads it; a missing or unreadable file is a first run.
    pub fn load(layout: &Layout, project: &str) -> State {
        std::fs::read(Self::path(layout, project))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes it atomically.
    pub fn save(&self, layout: &Layout, project: &str) -> Result<(), crate::state::StateError> {
        crate::state::write_json_atomic(&Self::path(layout, project), self)
    }

    /// Whether `p` changed after the watcher last looked (its ctime, which no
    /// tool can set back, is later).
    pub fn changed_since(&self, p: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Some(t) = self.seen_until else {
            return false;
        };
        std::fs::symlink_metadata(p).is_ok_and(|m| {
            let c = m.ctime() as f64 + m.ctime_nsec() as f64 / 1e9;
            let mt = m.mtime() as f64 + m.mtime_nsec() as f64 / 1e9;
            // Timestamps have nanosecond granularity here; 50 ms of slack covers
            // an event still in flight when `seen_until` was taken. (A whole
            // second copied files older than the last look whenever `up` and a
            // watch start took less than a second.)
            c.max(mt) >= t - 0.05
        })
    }
}
