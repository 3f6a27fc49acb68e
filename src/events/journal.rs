//! The writing side of a project's event journal: one JSON line per event,
//! appended with a single `write` on an `O_APPEND` descriptor, so that lines from
//! concurrent supervisors and CLIs never interleave. No fsync: an event lost to a
//! power cut is not worth slowing every action down.
//!
//! The journal is bounded: a writer that finds it past its limit renames it to
//! `<name>.1` (replacing the older one) under a lock; followers notice the new
//! file and keep reading.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::record::EventRecord;
use super::EventsError;

/// Past this size the journal is rotated.
pub const DEFAULT_LIMIT: u64 = 2 * 1024 * 1024;

/// `<journal>.1`: the rotated journal.
pub fn rotated_path(journal: &Path) -> PathBuf {
    let mut name = journal.file_name().unwrap_or_default().to_os_string();
    name.push(".1");
    journal.with_file_name(name)
}

fn lock_path(journal: &Path) -> PathBuf {
    let mut name = journal.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    journal.with_file_name(name)
}

/// A project's event journal, for appending.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    limit: u64,
}

impl Journal {
    /// The journal at `path`, rotated past [`DEFAULT_LIMIT`].
    pub fn new(path: PathBuf) -> Journal {
        Journal::with_limit(path, DEFAULT_LIMIT)
    }

    /// The journal at `path`, rotated past `limit` bytes.
    pub fn with_limit(path: PathBuf, limit: u64) -> Journal {
        Journal { path, limit }
    }

    /// The file it appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event.
    pub fn append(&self, ev: &EventRecord) -> Result<(), EventsError> {
        let line = ev.to_line();
        let mut file = self.open()?;
        // One write call: O_APPEND makes the seek-and-write atomic between writers.
        let n = file
            .write(&line)
            .map_err(|e| EventsError::io("appending to", &self.path, e))?;
        if n != line.len() {
            return Err(EventsError::io(
                "appending to",
                &self.path,
                std::io::Error::other(format!("short write ({n} of {} bytes)", line.len())),
            ));
        }
        let meta = file
            .metadata()
            .map_err(|e| EventsError::io("reading", &self.path, e))?;
        if meta.len() > self.limit {
            self.rotate(meta.ino())?;
        }
        Ok(())
    }

    fn open(&self) -> Result<File, EventsError> {
        let open = || {
            OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC)
                .open(&self.path)
        };
        match open() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = self.path.parent() {
                    fs::create_dir_all(dir).map_err(|e| EventsError::io("creating", dir, e))?;
                }
                open()
            }
            r => r,
        }
        .map_err(|e| EventsError::io("opening", &self.path, e))
    }

    /// Renames the full journal aside, unless another writer already has: only
    /// the file we wrote to (`ino`) is rotated, under the lock, so two writers
    /// past the limit never rotate twice and lose the first `.1`.
    fn rotate(&self, ino: u64) -> Result<(), EventsError> {
        let lock = lock_path(&self.path);
        let Some(_held) =
            crate::state::try_lock(&lock).map_err(|e| EventsError::io("locking", &lock, e))?
        else {
            return Ok(());
        };
        match fs::metadata(&self.path) {
            Ok(m) if m.ino() == ino && m.len() > self.limit => {
                let to = rotated_path(&self.path);
                fs::rename(&self.path, &to).map_err(|e| EventsError::io("rotating", &to, e))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::record;
    use super::super::record::{Action, EventRecord};
    use super::*;
    use std::time::SystemTime;

    fn read_lines(path: &Path) -> Vec<EventRecord> {
        fs::read(path)
            .unwrap_or_default()
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| EventRecord::parse(l).expect("whole lines only"))
            .collect()
    }

    #[test]
    fn appends_lines_and_makes_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("events/p.jsonl"));
        for a in [Action::Create, Action::Start] {
            j.append(&EventRecord::container(
                &record("web"),
                a,
                SystemTime::now(),
            ))
            .unwrap();
        }
        let got: Vec<String> = read_lines(j.path()).into_iter().map(|e| e.action).collect();
        assert_eq!(got, ["create", "start"]);
    }

    #[test]
    fn rotates_past_the_limit_into_dot_one() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::with_limit(dir.path().join("p.jsonl"), 1000);
        let ev = EventRecord::container(&record("web"), Action::Start, SystemTime::now());
        let per = ev.to_line().len() as u64;
        let n = 1000 / per + 2;
        for _ in 0..n {
            j.append(&ev).unwrap();
        }
        let rotated = rotated_path(j.path());
        let old = read_lines(&rotated).len() as u64;
        let new = read_lines(j.path()).len() as u64;
        assert!(old > 0, "nothing rotated");
        assert_eq!(old + new, n, "no event lost across the rotation");
        assert!(fs::metadata(j.path()).unwrap().len() <= 1000 + per);
        assert_eq!(rotated.file_name().unwrap(), "p.jsonl.1");
    }

    #[test]
    fn concurrent_appends_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        // Big lines (~8 KiB, more than a page) make torn writes visible if any.
        let mut rec = record("web");
        rec.labels.insert("big".into(), "x".repeat(8192));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let j = Journal::with_limit(path.clone(), u64::MAX);
                let rec = rec.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let ev = EventRecord::container(
                            &rec,
                            Action::Kill {
                                signal: t * 100 + i,
                            },
                            SystemTime::now(),
                        );
                        j.append(&ev).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut signals: Vec<i32> = read_lines(&path)
            .iter()
            .map(|e| e.attribute("signal").unwrap().parse().unwrap())
            .collect();
        signals.sort();
        let want: Vec<i32> = (0..8)
            .flat_map(|t| (0..50).map(move |i| t * 100 + i))
            .collect();
        assert_eq!(signals, want);
    }
}
