//! Waking when a container's status changes, instead of polling on a timer.
//!
//! Supervisors replace `status.json` by rename, so a watch on the directory holding
//! each container's status (its run side) and on the containers directories of the
//! root and the run dir (for containers that appear) sees every change.
//! Waiters still re-read the status after each wake-up and bound each wait: a missed
//! event costs at most one bound, never a hang.

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::state::inotify::Inotify;

/// An inotify instance watching container directories for status changes.
#[derive(Debug)]
pub struct StatusWatch {
    inotify: Inotify,
}

const MASK: u32 = libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE | libc::IN_CREATE | libc::IN_DELETE;

impl StatusWatch {
    /// A watch on `containers_dir` (new and removed containers) and nothing else yet.
    pub fn new(containers_dir: &Path) -> io::Result<StatusWatch> {
        let w = StatusWatch {
            inotify: Inotify::new()?,
        };
        let _ = w.inotify.watch(containers_dir, MASK);
        let in_root = containers_dir.parent().filter(|_| {
            containers_dir
                .file_name()
                .is_some_and(|n| n == "containers")
        });
        if let Some(root) = in_root {
            let run = crate::state::layout::run_dir_of(root).join("containers");
            use std::os::unix::fs::DirBuilderExt;
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&run);
            let _ = w.inotify.watch(&run, MASK);
        }
        Ok(w)
    }

    /// Also wakes on changes of the status of the container in `dir` (its
    /// directory); a directory that is gone is skipped, as its removal already
    /// woke the waiter.
    pub fn add(&self, dir: &Path) {
        let status = crate::state::ContainerDir::new(dir).status();
        let _ = self.inotify.watch(status.parent().unwrap_or(dir), MASK);
    }

    /// Blocks until something changed under a watched directory or `max` passed.
    pub fn wait(&self, max: Duration) {
        self.inotify.wait(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_rename_into_a_watched_directory_wakes_the_waiter() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("c1");
        std::fs::create_dir(&dir).unwrap();
        let w = StatusWatch::new(root.path()).unwrap();
        w.add(&dir);
        let d = dir.clone();
        let t = std::thread::spawn(move || {
            std::fs::write(d.join(".status.json.tmp"), b"{}").unwrap();
            std::fs::rename(d.join(".status.json.tmp"), d.join("status.json")).unwrap();
        });
        let t0 = Instant::now();
        w.wait(Duration::from_secs(10));
        t.join().unwrap();
        assert!(t0.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn without_changes_the_wait_ends_at_its_bound() {
        let root = tempfile::tempdir().unwrap();
        let w = StatusWatch::new(root.path()).unwrap();
        let t0 = Instant::now();
        w.wait(Duration::from_millis(30));
        assert!(t0.elapsed() >= Duration::from_millis(30));
    }
}
