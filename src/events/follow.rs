//! The reading side of a project's event journal: new events as they are
//! appended, across rotations, woken by inotify.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::RawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::journal::rotated_path;
use super::record::EventRecord;
use super::EventsError;
use crate::state::inotify::Inotify;

/// Where following starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Only events appended from now on.
    Now,
    /// Everything the journal still holds (the rotated file first), then new events.
    Beginning,
}

/// One journal file being read, with the incomplete last line kept back.
#[derive(Debug)]
struct Tail {
    file: File,
    ino: u64,
    pending: Vec<u8>,
}

impl Tail {
    fn open(path: &Path, at_end: bool) -> Option<Tail> {
        let mut file = File::open(path).ok()?;
        let ino = file.metadata().ok()?.ino();
        if at_end {
            file.seek(SeekFrom::End(0)).ok()?;
        }
        Some(Tail {
            file,
            ino,
            pending: vec![],
        })
    }

    /// Reads what was appended since the last call; only whole lines become events.
    fn read_events(&mut self, out: &mut Vec<EventRecord>) {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match self.file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
            }
        }
        let Some(last_nl) = self.pending.iter().rposition(|b| *b == b'\n') else {
            return;
        };
        let rest = self.pending.split_off(last_nl + 1);
        for line in self
            .pending
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
        {
            match EventRecord::parse(line) {
                Ok(ev) => out.push(ev),
                Err(e) => tracing::debug!("skipping a malformed journal line: {e}"),
            }
        }
        self.pending = rest;
    }
}

/// Follows one project's journal.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    watch: Inotify,
    current: Option<Tail>,
    /// The file before the last rotation: a writer that opened it just before
    /// the rename may still append to it.
    previous: Option<Tail>,
}

impl Follower {
    /// Starts following the journal at `path` (which need not exist yet).
    pub fn open(path: &Path, start: Start) -> Result<Follower, EventsError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| EventsError::io("creating", dir, e))?;
        // The watch comes before the first read, so nothing appended in between is missed.
        let watch = Inotify::new()
            .and_then(|w| {
                let mask =
                    libc::IN_MODIFY | libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_MOVED_FROM;
                w.watch(dir, mask).map(|()| w)
            })
            .map_err(|e| EventsError::io("watching", dir, e))?;
        let at_end = start == Start::Now;
        let previous = match start {
            Start::Now => None,
            Start::Beginning => Tail::open(&rotated_path(path), false),
        };
        Ok(Follower {
            path: path.to_path_buf(),
            watch,
            current: Tail::open(path, at_end),
            previous,
        })
    }

    /// The descriptor to poll: readable when the journal may have new events.
    pub fn wake_fd(&self) -> RawFd {
        self.watch.raw_fd()
    }

    /// The events appended since the last call, in journal order.
    pub fn read_new(&mut self) -> Vec<EventRecord> {
        self.watch.drain();
        let mut out = vec![];
        if let Some(p) = &mut self.previous {
            p.read_events(&mut out);
        }
        if let Some(c) = &mut self.current {
            c.read_events(&mut out);
        }
        let on_disk = fs::metadata(&self.path).ok().map(|m| m.ino());
        let rotated = match (&self.current, on_disk) {
            (Some(c), Some(ino)) => c.ino != ino,
            (None, Some(_)) => true,
            _ => false,
        };
        if rotated {
            // The old file was read to its end above; the new one is read whole.
            if let Some(c) = self.current.take() {
                self.previous = Some(c);
            }
            self.current = Tail::open(&self.path, false);
            if let Some(c) = &mut self.current {
                c.read_events(&mut out);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::journal::Journal;
    use super::super::record::tests::record;
    use super::super::record::Action;
    use super::*;
    use std::io::Write;
    use std::time::SystemTime;

    fn start(j: &Journal) {
        j.append(&EventRecord::container(
            &record("web"),
            Action::Start,
            SystemTime::now(),
        ))
        .unwrap();
    }

    fn kill(j: &Journal, signal: i32) {
        j.append(&EventRecord::container(
            &record("web"),
            Action::Kill { signal },
            SystemTime::now(),
        ))
        .unwrap();
    }

    fn signals(evs: &[EventRecord]) -> Vec<i32> {
        evs.iter()
            .filter_map(|e| e.attribute("signal")?.parse().ok())
            .collect()
    }

    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    #[test]
    fn follows_from_now_and_wakes_on_append() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("events/p.jsonl"));
        start(&j);
        let mut f = Follower::open(j.path(), Start::Now).unwrap();
        assert!(f.read_new().is_empty(), "history is not replayed");
        assert!(!readable(f.wake_fd()));
        kill(&j, 1);
        assert!(readable(f.wake_fd()), "an append wakes the follower");
        assert_eq!(signals(&f.read_new()), [1]);
        assert!(!readable(f.wake_fd()));
    }

    #[test]
    fn picks_up_a_journal_created_after_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("events/p.jsonl"));
        let mut f = Follower::open(j.path(), Start::Now).unwrap();
        assert!(f.read_new().is_empty());
        kill(&j, 7);
        assert!(readable(f.wake_fd()));
        assert_eq!(signals(&f.read_new()), [7]);
    }

    #[test]
    fn survives_rotation_without_losing_events() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::with_limit(dir.path().join("p.jsonl"), 2000);
        let mut f = Follower::open(j.path(), Start::Now).unwrap();
        let mut seen = vec![];
        for i in 0..40 {
            kill(&j, i);
            if i % 3 == 0 {
                seen.extend(signals(&f.read_new()));
            }
        }
        seen.extend(signals(&f.read_new()));
        assert!(rotated_path(j.path()).exists(), "the journal rotated");
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn from_the_beginning_reads_the_rotated_file_first() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::with_limit(dir.path().join("p.jsonl"), 2000);
        for i in 0..5 {
            kill(&j, i);
        }
        fs::rename(j.path(), rotated_path(j.path())).unwrap();
        for i in 5..8 {
            kill(&j, i);
        }
        let mut f = Follower::open(j.path(), Start::Beginning).unwrap();
        assert_eq!(signals(&f.read_new()), (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn a_half_written_line_waits_for_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        let mut f = Follower::open(&path, Start::Now).unwrap();
        let line = EventRecord::container(
            &record("web"),
            Action::Kill { signal: 9 },
            SystemTime::now(),
        )
        .to_line();
        let mut file = File::create(&path).unwrap();
        file.write_all(&line[..10]).unwrap();
        assert!(f.read_new().is_empty());
        file.write_all(&line[10..]).unwrap();
        assert_eq!(signals(&f.read_new()), [9]);
    }
}
