//! The host side: one inotify watch (through the `notify` crate) per watched
//! directory, ignored directories left out entirely (no watch is spent on a
//! `node_modules`), new directories picked up as they appear, and events
//! gathered into batches that end after a short quiet period, so a burst (a
//! `git checkout` of thousands of files) is one batch and no path is lost.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
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
}

/// Watched trees.
pub struct Tree {
    watcher: notify::INotifyWatcher,
    rx: Receiver<notify::Result<notify::Event>>,
    prune: Box<dyn Fn(&Path) -> bool + Send>,
    watched: HashSet<PathBuf>,
    quiet: Duration,
}

impl Tree {
    /// Watches `roots` (directories, or files: then their directory), leaving
    /// out every directory `prune` says no rule needs.
    pub fn new(
        roots: &[PathBuf],
        prune: Box<dyn Fn(&Path) -> bool + Send>,
        quiet: Duration,
    ) -> Result<Tree, TreeError> {
        let (tx, rx) = mpsc::channel();
        let watcher = notify::INotifyWatcher::new(
            move |ev| {
                let _ = tx.send(ev);
            },
            notify::Config::default(),
        )
        .map_err(|e| classify(Path::new("/"), e))?;
        let mut t = Tree {
            watcher,
            rx,
            prune,
            watched: HashSet::new(),
            quiet,
        };
        let mut dirs: Vec<PathBuf> = roots
            .iter()
            .map(|r| {
                if r.is_dir() {
                    r.clone()
                } else {
                    r.parent()
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
        // Opening or reading a file (the sync itself reads every file it
        // copies) changes nothing: only writes, creations, removals count.
        if let notify::EventKind::Access(a) = ev.kind {
            if !matches!(a, AccessKind::Close(AccessMode::Write)) {
                return Ok(());
            }
        }
        for p in ev.paths {
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() && !self.watched.contains(&p) => {
                    let mut found = vec![];
                    self.add_tree(&p, &mut found)?;
                    batch.paths.extend(found);
                }
                Err(_) if self.watched.contains(&p) => {
                    // A directory removed or moved away: drop its watches.
                    let gone: Vec<PathBuf> = self
                        .watched
                        .iter()
                        .filter(|w| w.starts_with(&p))
                        .cloned()
                        .collect();
                    for g in gone {
                        let _ = self.watcher.unwatch(&g);
                        self.watched.remove(&g);
                    }
                }
                _ => {}
            }
            batch.paths.insert(p);
        }
        Ok(())
    }

    /// Waits up to `wait` for a change, then gathers events until none came
    /// for the quiet period; `None` when nothing happened.
    pub fn next_batch(&mut self, wait: Duration) -> Result<Option<Batch>, TreeError> {
        let first = match self.rx.recv_timeout(wait) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => return Ok(None),
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
        };
        let mut batch = Batch::default();
        self.take(first, &mut batch)?;
        while let Ok(ev) = self.rx.recv_timeout(self.quiet) {
            self.take(ev, &mut batch)?;
        }
        Ok(Some(batch))
    }
}
