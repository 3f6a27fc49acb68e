//! One fsync of a directory for every thread that changed it meanwhile (a group
//! commit): `up` pins each new container's image in one directory, from a thread
//! per container, and on a filesystem without a journal each fsync of it is a
//! device flush of its own (1 to 14 ms here). Threads whose change an fsync
//! already under way missed wait for it and share the next one.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// The fsyncs of one directory in this process.
#[derive(Default)]
struct Group {
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Default)]
struct State {
    /// Changes announced so far (each caller's ticket).
    changes: u64,
    /// Every change up to this one is durable.
    synced: u64,
    /// An fsync is under way.
    running: bool,
}

/// The group of `dir`, made on first use; a process touches few directories.
fn group_of(dir: &Path) -> Arc<Group> {
    static GROUPS: Mutex<Vec<(PathBuf, Arc<Group>)>> = Mutex::new(Vec::new());
    let mut groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, g)) = groups.iter().find(|(d, _)| d == dir) {
        return g.clone();
    }
    let g = Arc::new(Group::default());
    groups.push((dir.to_path_buf(), g.clone()));
    g
}

fn lock(g: &Group) -> std::sync::MutexGuard<'_, State> {
    g.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes durable the change the caller just made in `dir` (a new entry): by an
/// fsync that starts after this call, its own or another thread's. A failed
/// fsync is reported to the thread that ran it; the others try again.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let group = group_of(dir);
    let mut st = lock(&group);
    st.changes += 1;
    let ticket = st.changes;
    loop {
        if st.synced >= ticket {
            return Ok(());
        }
        if !st.running {
            // Every change announced until now happened before this fsync.
            st.running = true;
            let covers = st.changes;
            drop(st);
            let res = File::open(dir).and_then(|d| d.sync_all());
            let mut st = lock(&group);
            st.running = false;
            if res.is_ok() {
                st.synced = st.synced.max(covers);
            }
            group.finished.notify_all();
            return res;
        }
        st = group.finished.wait(st).unwrap_or_else(|e| e.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_returns_once_its_change_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for i in 0..8 {
                let d = dir.path();
                s.spawn(move || {
                    std::fs::write(d.join(i.to_string()), b"x").unwrap();
                    sync_dir(d).unwrap();
                });
            }
        });
        let g = group_of(dir.path());
        let st = g.state.lock().unwrap();
        assert_eq!((st.changes, st.synced, st.running), (8, 8, false));
    }

    #[test]
    fn a_directory_that_cannot_be_opened_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(sync_dir(&dir.path().join("missing")).is_err());
    }
}
