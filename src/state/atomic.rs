//! Atomic replacement of a file's contents.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::{IoContext, StateError};

/// Replaces `path` with `bytes` so that a crash leaves the old or the new file
/// whole: temp file in the same directory, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    replace(path, bytes, Sync::All)
}

/// [`write_atomic`] whose contents are durable before the name appears, but
/// whose rename is not synced: for a file whose loss with a power failure
/// leaves a state the next command repairs (a container record: without it,
/// its directory is a half-made container `repair` removes). The directory's
/// fsync is a device flush of its own on a filesystem without a journal (12 ms
/// here, once per container made).
pub fn write_atomic_unnamed_sync(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    replace(path, bytes, Sync::Contents)
}

/// [`write_atomic`] without the fsyncs, for what only lives while a container
/// runs (the run dir, tmpfs by default): a killed writer still leaves the old
/// or the new file whole (the rename is atomic), and what a power loss could
/// take back, the reboot that follows makes stale anyway (no supervisor
/// survives it, and a status that claims one is corrected when read). Each
/// fsync cost a journal commit where the run dir is on disk, twice per status
/// change, in the path every container start waits on.
pub fn write_atomic_volatile(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    replace(path, bytes, Sync::None)
}

/// What of a replacement is made durable before [`replace`] returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sync {
    /// Nothing (run state).
    None,
    /// The new contents, before the rename names them.
    Contents,
    /// The contents, then the rename (the directory).
    All,
}

fn replace(path: &Path, bytes: &[u8], sync: Sync) -> Result<(), StateError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).at("create directory", dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    // pid and counter: no two writers, in this process or another, share a temp
    // file; the locks callers hold keep them from racing on the rename.
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp.{}.{n}", std::process::id()));
    let res = (|| {
        let mut file = File::create(&tmp).at("create", &tmp)?;
        file.write_all(bytes).at("write", &tmp)?;
        if sync != Sync::None {
            file.sync_all().at("fsync", &tmp)?;
        }
        drop(file);
        fs::rename(&tmp, path).at("rename into", path)?;
        if sync != Sync::All {
            return Ok(());
        }
        // Without this the rename itself may be lost on power failure.
        File::open(dir).and_then(|d| d.sync_all()).at("fsync", dir)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// The writer's pid if `name` is the temp file of an atomic write
/// (`.<name>.tmp.<pid>.<n>`): such a file is never a record, whatever it holds.
pub fn temp_writer(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".tmp.")?;
    let (pid, n) = tail.split_once('.')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Removes the temp files in `dir` whose writer is dead (a berth killed between
/// create and rename), so they neither pile up nor keep a directory from being
/// removed. A live writer's file is left alone: its rename is still to come.
pub fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = temp_writer(&name.to_string_lossy()) else {
            continue;
        };
        // A zombie still has its /proc entry; the pid being reused by another
        // process only delays the removal to a later listing.
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    write_atomic(path, &json_bytes(path, value, true)?)
}

/// Writes `value` as pretty JSON to `path` as [`write_atomic_unnamed_sync`] does.
pub fn write_json_unnamed_sync<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    write_atomic_unnamed_sync(path, &json_bytes(path, value, true)?)
}

/// Writes `value` as pretty JSON to `path` as [`write_atomic_volatile`] does.
pub fn write_json_volatile<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    write_atomic_volatile(path, &json_bytes(path, value, true)?)
}

/// `value` as JSON and a newline: pretty for the records a person may read,
/// compact for the files only berth reads.
pub(crate) fn json_bytes<T: Serialize>(
    path: &Path,
    value: &T,
    pretty: bool,
) -> Result<Vec<u8>, StateError> {
    let json = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    };
    let mut bytes = json.map_err(|source| StateError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn temp_names_are_recognised() {
        assert_eq!(temp_writer(".p_back.json.tmp.3877.0"), Some(3877));
        assert_eq!(temp_writer(".status.json.tmp.12.345"), Some(12));
        assert_eq!(temp_writer("p_back.json"), None);
        assert_eq!(temp_writer(".p_back.json"), None);
        assert_eq!(temp_writer(".x.tmp.notapid.0"), None);
    }

    #[test]
    fn stale_temps_go_and_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        // A pid above the kernel's pid_max is never alive.
        let dead = dir.path().join(".n.json.tmp.4194305.0");
        let live = dir
            .path()
            .join(format!(".n.json.tmp.{}.0", std::process::id()));
        let record = dir.path().join("n.json");
        for f in [&dead, &live, &record] {
            fs::write(f, b"{}").unwrap();
        }
        remove_stale_temps(dir.path());
        assert!(!dead.exists());
        assert!(live.exists());
        assert!(record.exists());
    }

    #[test]
    fn volatile_writes_replace_whole_and_leave_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/status.json");
        write_json_volatile(&path, &1).unwrap();
        write_json_volatile(&path, &2).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"2\n");
        assert_eq!(fs::read_dir(dir.path().join("run")).unwrap().count(), 1);
    }

    #[test]
    fn json_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.json");
        write_json_atomic(&path, &vec![1, 2, 3]).unwrap();
        let back: Vec<i32> = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(back, vec![1, 2, 3]);
    }
}
