//! The container log in docker's json-file format, with size-based rotation.
//!
//! One JSON object per line, `{"log":"text\n","stream":"stdout","time":"…"}`, so
//! tools that read docker's logs read berth's too.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Lines longer than this are split into several records, as docker does (16 KiB).
pub const MAX_LINE: usize = 16 * 1024;

/// Which output stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// The process's standard output.
    Stdout,
    /// The process's standard error.
    Stderr,
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The text, with its trailing newline if the line was complete.
    pub log: String,
    /// The stream it came from.
    pub stream: Stream,
    /// When the supervisor read it, RFC 3339 with nanoseconds.
    pub time: String,
}

impl Entry {
    /// The record's time, if it parses.
    pub fn timestamp(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339(&self.time).ok()
    }
}

/// Rotation limits from `logging.options` (`max-size`, `max-file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// Rotate once the file reaches this many bytes.
    pub max_size: u64,
    /// How many files to keep in all, the live one included (at least 1).
    pub max_files: u32,
}

impl Rotation {
    /// berth's bound when a service sets no `max-size`: docker's `local`
    /// driver's defaults, 20 MiB per file and 5 files, so that a chatty
    /// container cannot fill the disk (docker's json-file default is unbounded;
    /// 200 MiB of `yes` became a 7.5 GB log).
    pub const DEFAULT: Rotation = Rotation {
        max_size: 20 << 20,
        max_files: 5,
    };
}

/// Appends records to a container's log, rotating it when it grows too large.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Option<Rotation>,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens (or creates) the log at `path` for appending.
    pub fn open(path: &Path, rotation: Option<Rotation>) -> io::Result<LogWriter> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Takes bytes read from `stream` and writes every complete line as a record;
    /// an unfinished line waits for more bytes (or [`LogWriter::flush_partial`]).
    pub fn write(&mut self, stream: Stream, bytes: &[u8], now: SystemTime) -> io::Result<()> {
        let idx = stream as usize;
        let mut pending = std::mem::take(&mut self.partial[idx]);
        pending.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos + 1;
            self.record(stream, &pending[start..end], now)?;
            start = end;
        }
        while pending.len() - start >= MAX_LINE {
            self.record(stream, &pending[start..start + MAX_LINE], now)?;
            start += MAX_LINE;
        }
        pending.drain(..start);
        self.partial[idx] = pending;
        Ok(())
    }

    /// Writes out unfinished lines (the process exited mid-line).
    pub fn flush_partial(&mut self, now: SystemTime) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let pending = std::mem::take(&mut self.partial[stream as usize]);
            if !pending.is_empty() {
                self.record(stream, &pending, now)?;
            }
        }
        Ok(())
    }

    fn record(&mut self, stream: Stream, line: &[u8], now: SystemTime) -> io::Result<()> {
        let entry = Entry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream,
            time: humantime::format_rfc3339_nanos(now).to_string(),
        };
        let mut buf = serde_json::to_vec(&entry).map_err(io::Error::other)?;
        buf.push(b'\n');
        if let Some(rot) = self.rotation {
            if self.size > 0 && self.size + buf.len() as u64 > rot.max_size {
                self.rotate(rot)?;
            }
        }
        self.file.write_all(&buf)?;
        self.size += buf.len() as u64;
        Ok(())
    }

    fn rotate(&mut self, rot: Rotation) -> io::Result<()> {
        let keep = rot.max_files.max(1);
        if keep > 1 {
            for n in (1..keep - 1).rev() {
                let from = rotated(&self.path, n);
                if from.exists() {
                    fs::rename(&from, rotated(&self.path, n + 1))?;
                }
            }
            fs::rename(&self.path, rotated(&self.path, 1))?;
        } else {
            fs::remove_file(&self.path)?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// The path of the `n`th rotated file (`<log>.1` is the newest).
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Reads every record of a log, oldest first, rotated files included; lines that
/// are not records (a torn write after a crash) are skipped. Holds the whole log:
/// for tests and small logs; `logs` streams with [`super::logread::LogFiles`].
pub fn read_all(path: &Path) -> io::Result<Vec<Entry>> {
    let files = super::logread::LogFiles::open(path, u64::MAX)?;
    let start = files.start();
    files.records_from(start).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn writes_docker_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut w = LogWriter::open(&path, None).unwrap();
        w.write(Stream::Stdout, b"hello\nwor", t(1)).unwrap();
        w.write(Stream::Stderr, b"oops\n", t(2)).unwrap();
        w.write(Stream::Stdout, b"ld\n", t(3)).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            r#"{"log":"hello\n","stream":"stdout","time":"1970-01-01T00:00:01.000000000Z"}"#
        );
        let logs: Vec<_> = read_all(&path)
            .unwrap()
            .into_iter()
            .map(|e| e.log)
            .collect();
        assert_eq!(logs, vec!["hello\n", "oops\n", "world\n"]);
    }

    #[test]
    fn unfinished_line_is_flushed_on_exit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut w = LogWriter::open(&path, None).unwrap();
        w.write(Stream::Stdout, b"no newline", t(1)).unwrap();
        assert!(read_all(&path).unwrap().is_empty());
        w.flush_partial(t(2)).unwrap();
        assert_eq!(read_all(&path).unwrap()[0].log, "no newline");
    }

    #[test]
    fn rotation_keeps_max_files_and_reads_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let rot = Rotation {
            max_size: 200,
            max_files: 3,
        };
        let mut w = LogWriter::open(&path, Some(rot)).unwrap();
        for i in 0..40 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes(), t(i))
                .unwrap();
        }
        assert!(rotated(&path, 2).exists());
        assert!(!rotated(&path, 3).exists());
        for f in [path.clone(), rotated(&path, 1), rotated(&path, 2)] {
            assert!(fs::metadata(&f).unwrap().len() <= 200);
        }
        let logs: Vec<_> = read_all(&path)
            .unwrap()
            .into_iter()
            .map(|e| e.log)
            .collect();
        assert_eq!(logs.last().unwrap(), "line 39\n");
        let nums: Vec<u32> = logs
            .iter()
            .map(|l| l.trim().trim_start_matches("line ").parse().unwrap())
            .collect();
        assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "{nums:?}");
    }

    #[test]
    fn very_long_lines_are_split() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut w = LogWriter::open(&path, None).unwrap();
        let long = vec![b'x'; MAX_LINE * 2 + 5];
        w.write(Stream::Stdout, &long, t(1)).unwrap();
        w.flush_partial(t(1)).unwrap();
        let e = read_all(&path).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[2].log.len(), 5);
    }
}
