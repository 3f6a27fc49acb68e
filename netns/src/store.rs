//! Persisted state: atomic JSON files (temp + rename) under a file lock that
//! serializes concurrent berth processes on one state dir.
//!
//! No fsync: this state describes kernel objects (bridges, veths, namespaces,
//! nft tables) that a power loss takes away too, and the rename alone already
//! survives a killed process. The fsync cost 1–7 ms per attach and per detach on
//! ext4, under a lock every container of the host waits on.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, IoContext, Result};

/// An exclusive `flock` held until dropped.
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Take the exclusive lock on `path` (created if missing), blocking.
    pub fn acquire(path: &Path) -> Result<Lock> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).at("create dir", dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .at("open lock", path)?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error()).at("lock", path);
        }
        Ok(Lock { _file: file })
    }
}

/// Write `value` as JSON to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let data = serde_json::to_vec_pretty(value).map_err(|source| Error::State {
        path: path.into(),
        source,
    })?;
    write_atomic(path, &data)
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The writer's pid if `name` is a temp file of [`write_atomic`].
fn temp_writer(name: &str) -> Option<u32> {
    let (_, tail) = name.strip_prefix('.')?.rsplit_once(".tmp.")?;
    let (pid, n) = tail.split_once('.')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Removes the temp files in `dir` left by writers that died before their
/// rename; a live writer's file stays.
pub fn remove_stale_temps(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else {
        return;
    };
    for ent in rd.flatten() {
        let Some(pid) = temp_writer(&ent.file_name().to_string_lossy()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(ent.path());
        }
    }
}

/// Write `data` to `path` atomically: a reader sees the old or the new file, never half.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).at("create dir", dir)?;
    // `.<name>.tmp.<pid>.<n>`, as berth's own state writes name them: never a
    // `*.json` a reader takes for a record, and the pid tells a dead writer's.
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp.{}.{n}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id()
    ));
    let mut f = File::create(&tmp).at("create", &tmp)?;
    f.write_all(data).at("write", &tmp)?;
    fs::rename(&tmp, path).at("rename", path)?;
    Ok(())
}

/// Read JSON from `path`; `None` when the file does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|source| Error::State {
                path: path.into(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).at("read", path),
    }
}

/// Remove `path`; a missing file is not an error.
pub fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at("remove", path),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_json_roundtrip() {
        let dir = std::env::temp_dir().join(format!("berth-netns-store-{}", std::process::id()));
        let p = dir.join("sub/x.json");
        assert_eq!(read_json::<Vec<u32>>(&p).unwrap(), None);
        write_json(&p, &vec![1u32, 2]).unwrap();
        write_json(&p, &vec![3u32]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&p).unwrap(), Some(vec![3]));
        // No temp file is left next to it.
        assert_eq!(fs::read_dir(dir.join("sub")).unwrap().count(), 1);
        let _l = Lock::acquire(&dir.join("lock")).unwrap();
        remove(&p).unwrap();
        remove(&p).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dead_writers_temps_are_swept() {
        let dir = std::env::temp_dir().join(format!("berth-netns-sweep-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        // Above the kernel's pid_max: never a live process.
        let dead = dir.join(".n.json.tmp.4194305.0");
        let live = dir.join(format!(".n.json.tmp.{}.0", std::process::id()));
        fs::write(&dead, b"{}").unwrap();
        fs::write(&live, b"{}").unwrap();
        remove_stale_temps(&dir);
        assert!(!dead.exists());
        assert!(live.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
