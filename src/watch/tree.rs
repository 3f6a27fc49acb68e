//! The host side: one inotify watch (through the `notify` crate) per watched
//! directory, ignored directories left out entirely (no watch is spent on a
//! `node_modules`), new directories picked up as they appear, and events
//! gathered into batches without losing a path.
//!
//! A batch of syncs ends as soon as the event queue is drained and no file in
//! it is still open for writing (see [`Pace`]): a saved file is in the
//! container a few milliseconds later, not after docker compose's 500 ms quiet
//! period. A batch that restarts, rebuilds or execs waits for a quiet period,
//! so a `git checkout` of thousands of files is one restart.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::EventKind;
use notify::{RecursiveMode, Watcher as _};

/// Why watching failed.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The per-user inotify watch limit is reached.
    #[error("cannot watch {path}: the inotify watch limit is reached; raise it with `sysctl fs.inotify.max_user_watches=<more>` (now {limit})")]
    Watches {
        /// The directory.
        path: String,
        /// The current limit.
        limit: String,
    },
    /// The per-user inotify instance limit is reached.
    #[error("cannot start watching: too many inotify instances; raise it with `sysctl fs.inotify.max_user_instances=<more>` (now {limit})")]
    Instances {
        /// The current limit.
        limit: String,
    },
    /// Anything else notify reports.
    #[error("watching {path}: {source}")]
    Notify {
        /// The path.
        path: String,
        /// Why.
        source: notify::Error,
    },
}

fn sysctl(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/fs/inotify/{name}"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn classify(path: &Path, e: notify::Error) -> TreeError {
    let io_code = match &e.kind {
        notify::ErrorKind::Io(io) => io.raw_os_error(),
        _ => None,
    };
    match (&e.kind, io_code) {
        (notify::ErrorKind::MaxFilesWatch, _) | (_, Some(libc::ENOSPC)) => TreeError::Watches {
            path: path.display().to_string(),
            limit: sysctl("max_user_watches"),
        },
        (_, Some(libc::EMFILE)) => TreeError::Instances {
            limit: sysctl("max_user_instances"),
        },
        _ => TreeError::Notify {
            path: path.display().to_string(),
            source: e,
        },
    }
}

/// What one batch says changed.
#[derive(Debug, Default)]
pub struct Batch {
    /// Every path an event named (and everything found under a new directory).
    pub paths: BTreeSet<PathBuf>,
    /// The kernel dropped events (queue overflow): compare everything.
    pub rescan: bool,
    /// A path in it triggers a restart, rebuild or exec.
    heavy: bool,
    /// Files written to and not closed yet: their writer is not done.
    writing: HashSet<PathBuf>,
}

/// When a batch ends: after the gap that fits what it holds, or when it is
/// [`Pace::longest`] old whatever keeps coming.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// A fixed sliding quiet period for every batch (docker compose's way),
    /// instead of the gaps below.
    pub fixed: Option<Duration>,
    /// Syncs only, every file closed: the queue is drained when nothing came
    /// for this long (events of one save arrive microseconds apart).
    pub drained: Duration,
    /// Syncs only, a file still open for writing: its writer may be between
    /// two writes.
    pub writing: Duration,
    /// A restart, rebuild or exec: the quiet period that makes a burst one
    /// restart (docker compose waits 500 ms for every batch).
    pub heavy: Duration,
    /// The longest a batch gathers (a file appended to forever must not hold
    /// back every other sync); not with a fixed quiet period, which like
    /// docker compose's has no maximum.
    pub longest: Duration,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            fixed: None,
            drained: Duration::from_millis(2),
            writing: Duration::from_millis(50),
            heavy: Duration::from_millis(200),
            longest: Duration::from_secs(2),
        }
    }
}

impl Pace {
    fn gap(&self, batch: &Batch) -> Duration {
        match self.fixed {
            Some(d) => d,
            None if batch.heavy => self.heavy,
            None if !batch.writing.is_empty() => self.writing,
            None => self.drained,
        }
    }
}

/// Whether an event can change what a container must have. Opening, reading
/// and closing a file unwritten do not (the sync itself reads every file it
/// copies: counting those would loop), and they never reach the batcher.
fn relevant(ev: &notify::Result<notify::Event>) -> bool {
    match ev {
        Ok(ev) => match ev.kind {
            EventKind::Access(a) => matches!(a, AccessKind::Close(AccessMode::Write)),
            _ => true,
        },
        Err(_) => true,
    }
}

/// Says whether a changed path triggers a restart, rebuild or exec.
pub type Heavy = Box<dyn Fn(&Path) -> bool + Send>;

/// Watched trees.
pub struct Tree {
    watcher: notify::INotifyWatcher,
    rx: Receiver<notify::Result<notify::Event>>,
    prune: Box<dyn Fn(&Path) -> bool + Send>,
    heavy: Option<Heavy>,
    watched: HashSet<PathBuf>,
    pace: Pace,
}

impl Tree {
    /// Watches `roots` (directories, or files: then their directory), leaving
    /// out every directory `prune` says no rule needs; a batch holding a path
    /// `heavy` names waits for [`Pace::heavy`].
    pub fn new(
        roots: &[PathBuf],
        prune: Box<dyn Fn(&Path) -> bool + Send>,
        heavy: Option<Heavy>,
        pace: Pace,
    ) -> Result<Tree, TreeError> {
        let (tx, rx) = mpsc::channel();
        let watcher = notify::INotifyWatcher::new(
            move |ev| {
                if relevant(&ev) {
                    let _ = tx.send(ev);
                }
            },
            notify::Config::default(),
        )
        .map_err(|e| classify(Path::new("/"), e))?;
        let mut t = Tree {
            watcher,
            rx,
            prune,
            heavy,
            watched: HashSet::new(),
            pace,
        };
        let mut dirs: Vec<PathBuf> = roots
            .iter()
            .map(|r| {
                if r.is_dir() {
                    r.clone()
                } else if r.exists() {
                    r.parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| r.clone())
                } else {
                    // Not there yet: its nearest existing ancestor is watched, and the
                    // directories leading to it are added as they appear (see `take`).
                    r.ancestors()
                        .find(|a| a.is_dir())
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| r.clone())
                }
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        for d in dirs {
            let mut found = vec![];
            if d.is_dir() && !roots.contains(&d) {
                // A file's directory: only that directory, not its subtree.
                t.watch_one(&d)?;
            } else {
                t.add_tree(&d, &mut found)?;
            }
        }
        Ok(t)
    }

    /// How many directories have a watch.
    pub fn watch_count(&self) -> usize {
        self.watched.len()
    }

    fn watch_one(&mut self, dir: &Path) -> Result<(), TreeError> {
        if self.watched.contains(dir) {
            return Ok(());
        }
        match self.watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.watched.insert(dir.to_path_buf());
                Ok(())
            }
            // Gone before we got to it: its removal is an event of its parent.
            Err(e) if matches!(&e.kind, notify::ErrorKind::PathNotFound) => Ok(()),
            Err(e) if matches!(&e.kind, notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound) => {
                Ok(())
            }
            Err(e) => Err(classify(dir, e)),
        }
    }

    /// Watches `dir` and every directory under it that is not pruned; every
    /// path found goes to `found` (a directory that just appeared may hold
    /// files made before its watch existed).
    fn add_tree(&mut self, dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), TreeError> {
        if (self.prune)(dir) {
            return Ok(());
        }
        self.watch_one(dir)?;
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for e in rd.flatten() {
            let p = e.path();
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                if (self.prune)(&p) {
                    continue;
                }
                found.push(p.clone());
                self.add_tree(&p, found)?;
            } else {
                found.push(p);
            }
        }
        Ok(())
    }

    fn take(
        &mut self,
        ev: notify::Result<notify::Event>,
        batch: &mut Batch,
    ) -> Result<(), TreeError> {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                let path = e.paths.first().cloned().unwrap_or_default();
                return match classify(&path, e) {
                    err @ (TreeError::Watches { .. } | TreeError::Instances { .. }) => Err(err),
                    // Anything else: compare everything rather than lose a change.
                    _ => {
                        batch.rescan = true;
                        Ok(())
                    }
                };
            }
        };
        if ev.need_rescan() {
            batch.rescan = true;
        }
        for p in ev.paths {
            match ev.kind {
                // Written to: its writer may not be done.
                EventKind::Create(CreateKind::File) | EventKind::Modify(ModifyKind::Data(_)) => {
                    batch.writing.insert(p.clone());
                }
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                    batch.writing.remove(&p);
                }
                // A directory made or moved in may hold files made before its
                // watch existed.
                EventKind::Create(CreateKind::Folder)
                | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Any))
                    if !self.watched.contains(&p)
                        && std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) =>
                {
                    let mut found = vec![];
                    self.add_tree(&p, &mut found)?;
                    batch.paths.extend(found);
                }
                // A directory removed or moved away: drop its watches.
                EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                    batch.writing.remove(&p);
                    if self.watched.contains(&p) && std::fs::symlink_metadata(&p).is_err() {
                        self.unwatch_tree(&p);
                    }
                }
                _ => {}
            }
            if !batch.heavy {
                batch.heavy = self.heavy.as_ref().is_some_and(|h| h(&p));
            }
            batch.paths.insert(p);
        }
        Ok(())
    }

    fn unwatch_tree(&mut self, dir: &Path) {
        let gone: Vec<PathBuf> = self
            .watched
            .iter()
            .filter(|w| w.starts_with(dir))
            .cloned()
            .collect();
        for g in gone {
            let _ = self.watcher.unwatch(&g);
            self.watched.remove(&g);
        }
    }

    /// Waits up to `wait` for a change, then gathers events until the gap
    /// [`Pace`] gives for what the batch holds; `None` when nothing happened.
    pub fn next_batch(&mut self, wait: Duration) -> Result<Option<Batch>, TreeError> {
        let first = match self.rx.recv_timeout(wait) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => return Ok(None),
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
        };
        let started = Instant::now();
        let mut batch = Batch::default();
        self.take(first, &mut batch)?;
        loop {
            // Whatever is queued already joins without a wait.
            while let Ok(ev) = self.rx.try_recv() {
                self.take(ev, &mut batch)?;
            }
            if self.pace.fixed.is_none() && started.elapsed() >= self.pace.longest {
                break;
            }
            match self.rx.recv_timeout(self.pace.gap(&batch)) {
                Ok(ev) => self.take(ev, &mut batch)?,
                Err(_) => break,
            }
        }
        Ok(Some(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_file_is_a_batch_at_once_and_reading_it_is_none() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let mut t = Tree::new(
            std::slice::from_ref(&root),
            Box::new(|_: &Path| false),
            None,
            Pace::default(),
        )
        .unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/a"), "one").unwrap();
        let mut seen = BTreeSet::new();
        // The directory's events may come before its watch; what it holds is found anyway.
        while !seen.contains(&root.join("d/a")) {
            let b = t
                .next_batch(Duration::from_secs(10))
                .unwrap()
                .expect("a batch");
            assert!(!b.rescan);
            seen.extend(b.paths);
        }
        assert!(seen.contains(&root.join("d")));
        // The last events of the write may still come (its watch raced the write).
        while t.next_batch(Duration::from_millis(200)).unwrap().is_some() {}
        // Reading (as the sync does) is no change.
        assert_eq!(std::fs::read(root.join("d/a")).unwrap(), b"one");
        assert!(t.next_batch(Duration::from_millis(200)).unwrap().is_none());
        // Removing the directory drops its watch.
        std::fs::remove_dir_all(root.join("d")).unwrap();
        while t.watched.contains(&root.join("d")) {
            t.next_batch(Duration::from_secs(10))
                .unwrap()
                .expect("a batch");
        }
    }
}
