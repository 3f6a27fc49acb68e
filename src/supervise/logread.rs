//! Reading a container's log (the live file and its rotated ones) in bounded
//! memory: records stream forward one at a time, and `--tail N` finds where the
//! last N records begin by reading backwards from the end, so it costs what N
//! costs, not what the log weighs (`logs --tail 1` on a 1 GB log read it all
//! and held 2 GB).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::logfile::{rotated, Entry};

/// No record is longer: 16 KiB of text, each byte escaped as `\u00XX` at worst,
/// plus the stream and time. A longer line is not a record and is skipped
/// without being held in memory.
pub const MAX_RECORD: usize = 128 * 1024;

/// How much is read at a time when going backwards.
const CHUNK: usize = 64 * 1024;

/// A place in a log: a file (by index, oldest first) and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    file: usize,
    offset: u64,
}

/// The files of one log, oldest first (`log.N` … `log.1`, `log`), opened at
/// once: a rotation while they are read renames them but changes no content.
pub struct LogFiles {
    /// Each file and how far into it records are read.
    files: Vec<(File, u64)>,
}

impl LogFiles {
    /// Opens the log at `path` and its rotated files; the live file is read up
    /// to `live_limit` (where a follower takes over), the others to their end.
    pub fn open(path: &Path, live_limit: u64) -> io::Result<LogFiles> {
        let mut names = vec![];
        let mut n = 1;
        while rotated(path, n).exists() {
            names.push((rotated(path, n), u64::MAX));
            n += 1;
        }
        names.reverse();
        names.push((path.to_path_buf(), live_limit));
        let mut files = vec![];
        for (name, limit) in names {
            match File::open(&name) {
                Ok(f) => {
                    let len = f.metadata()?.len();
                    files.push((f, len.min(limit)));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(LogFiles { files })
    }

    /// The very first record.
    pub fn start(&self) -> Pos {
        Pos { file: 0, offset: 0 }
    }

    /// Where the last `n` records that `keep` accepts begin (the start when the
    /// log holds fewer), found by reading backwards from the end.
    pub fn tail_start(&self, n: usize, mut keep: impl FnMut(&Entry) -> bool) -> io::Result<Pos> {
        let mut want = n;
        if want == 0 {
            return Ok(Pos {
                file: self.files.len(),
                offset: 0,
            });
        }
        for (i, (file, len)) in self.files.iter().enumerate().rev() {
            if let Some(offset) = scan_back(file, *len, &mut want, &mut keep)? {
                return Ok(Pos { file: i, offset });
            }
        }
        Ok(self.start())
    }

    /// The records from `pos` on, oldest first; lines that are not records (a
    /// torn write, a line being written) are skipped.
    pub fn records_from(self, pos: Pos) -> Records {
        Records {
            files: self.files.into_iter().skip(pos.file).collect(),
            offset: pos.offset,
            current: None,
            buf: Vec::new(),
        }
    }
}

/// Counts the records of one file backwards from `len`; the offset of the
/// record that brought `want` to zero, or `None` when the file ran out first.
/// Bytes after the last newline are a record still being written: not counted.
fn scan_back(
    file: &File,
    len: u64,
    want: &mut usize,
    keep: &mut impl FnMut(&Entry) -> bool,
) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; CHUNK];
    let mut end = len;
    // The end of the line being assembled (just past its newline).
    let mut line_end: Option<u64> = None;
    let mut line = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(CHUNK as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        for (i, &b) in chunk.iter().enumerate().rev() {
            if b != b'\n' {
                continue;
            }
            let at = start + i as u64 + 1;
            if let Some(e) = line_end {
                if counts(file, at, e, &mut line, keep)? {
                    *want -= 1;
                    if *want == 0 {
                        return Ok(Some(at));
                    }
                }
            }
            line_end = Some(at);
        }
        end = start;
    }
    if let Some(e) = line_end {
        if counts(file, 0, e, &mut line, keep)? {
            *want -= 1;
            if *want == 0 {
                return Ok(Some(0));
            }
        }
    }
    Ok(None)
}

/// Whether the line `[from, to)` of `file` is a record `keep` accepts.
fn counts(
    file: &File,
    from: u64,
    to: u64,
    line: &mut Vec<u8>,
    keep: &mut impl FnMut(&Entry) -> bool,
) -> io::Result<bool> {
    let n = (to - from) as usize;
    if !(2..=MAX_RECORD + 1).contains(&n) {
        return Ok(false);
    }
    line.resize(n, 0);
    file.read_exact_at(line, from)?;
    Ok(serde_json::from_slice::<Entry>(line).is_ok_and(|e| keep(&e)))
}

/// The records of a log from a [`Pos`] on.
pub struct Records {
    files: std::collections::VecDeque<(File, u64)>,
    offset: u64,
    current: Option<io::Take<BufReader<File>>>,
    buf: Vec<u8>,
}

impl Records {
    /// The next line of the current file, at most [`MAX_RECORD`] bytes kept:
    /// `Ok(None)` at the end of the file, `Ok(Some(false))` for a line that is
    /// too long or unfinished.
    fn line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
        buf.clear();
        let mut too_long = false;
        loop {
            let avail = reader.fill_buf()?;
            if avail.is_empty() {
                return Ok((!buf.is_empty() || too_long).then_some(false));
            }
            let (used, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            if !too_long && buf.len() + used <= MAX_RECORD + 1 {
                buf.extend_from_slice(&avail[..used]);
            } else {
                too_long = true;
                buf.clear();
            }
            reader.consume(used);
            if done {
                return Ok(Some(!too_long));
            }
        }
    }
}

impl Iterator for Records {
    type Item = io::Result<Entry>;

    fn next(&mut self) -> Option<io::Result<Entry>> {
        loop {
            if self.current.is_none() {
                let (mut file, limit) = self.files.pop_front()?;
                let offset = std::mem::take(&mut self.offset);
                if let Err(e) = file.seek(SeekFrom::Start(offset)) {
                    return Some(Err(e));
                }
                self.current = Some(BufReader::new(file).take(limit.saturating_sub(offset)));
            }
            let reader = self.current.as_mut()?;
            match Self::line(reader, &mut self.buf) {
                Err(e) => return Some(Err(e)),
                Ok(None) => self.current = None,
                Ok(Some(false)) => {}
                Ok(Some(true)) => {
                    if let Ok(e) = serde_json::from_slice::<Entry>(&self.buf) {
                        return Some(Ok(e));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::logfile::{LogWriter, Rotation, Stream};
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn write(path: &Path, rotation: Option<Rotation>, lines: std::ops::Range<u64>) {
        let mut w = LogWriter::open(path, rotation).unwrap();
        for i in lines {
            let t = UNIX_EPOCH + Duration::from_secs(i);
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes(), t)
                .unwrap();
        }
    }

    fn texts(files: LogFiles, pos: Pos) -> Vec<String> {
        files
            .records_from(pos)
            .map(|e| e.unwrap().log.trim().to_string())
            .collect()
    }

    #[test]
    fn tail_across_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let rot = Rotation {
            max_size: 500,
            max_files: 4,
        };
        write(&path, Some(rot), 0..40);
        assert!(rotated(&path, 3).exists());
        let all = || LogFiles::open(&path, u64::MAX).unwrap();
        let everything = texts(all(), all().start());
        let first: u64 = everything[0].trim_start_matches("line ").parse().unwrap();
        assert_eq!(everything.len() as u64, 40 - first);
        assert_eq!(everything.last().unwrap(), "line 39");
        for n in [0, 1, 2, 5, 9, 17, everything.len(), everything.len() + 5] {
            let f = all();
            let pos = f.tail_start(n, |_| true).unwrap();
            let got = texts(f, pos);
            let skip = everything.len().saturating_sub(n);
            assert_eq!(got, everything[skip..], "tail {n}");
        }
        // Counting only what is wanted: the last 3 even lines.
        let f = all();
        let even = |e: &Entry| e.log.trim().ends_with(['0', '2', '4', '6', '8']);
        let pos = f.tail_start(3, even).unwrap();
        let got: Vec<String> = texts(f, pos)
            .into_iter()
            .filter(|l| l.ends_with(['0', '2', '4', '6', '8']))
            .collect();
        assert_eq!(got, ["line 34", "line 36", "line 38"]);
    }

    #[test]
    fn torn_and_unfinished_lines_are_no_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        write(&path, None, 0..3);
        let mut text = std::fs::read(&path).unwrap();
        // A torn line in the middle, an over-long one, a record being written.
        text.extend_from_slice(b"{\"log\":\"torn\n");
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD * 3));
        text.push(b'\n');
        text.extend_from_slice(
            b"{\"log\":\"line 3\\n\",\"stream\":\"stdout\",\"time\":\"1970-01-01T00:00:03Z\"}\n",
        );
        text.extend_from_slice(b"{\"log\":\"half");
        std::fs::write(&path, &text).unwrap();
        let f = LogFiles::open(&path, u64::MAX).unwrap();
        let pos = f.tail_start(2, |_| true).unwrap();
        assert_eq!(texts(f, pos), ["line 2", "line 3"]);
        let f = LogFiles::open(&path, u64::MAX).unwrap();
        let start = f.start();
        assert_eq!(texts(f, start), ["line 0", "line 1", "line 2", "line 3"]);
    }

    #[test]
    fn the_live_file_is_read_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        write(&path, None, 0..2);
        let limit = std::fs::metadata(&path).unwrap().len();
        write(&path, None, 2..4);
        let f = LogFiles::open(&path, limit).unwrap();
        let pos = f.tail_start(5, |_| true).unwrap();
        assert_eq!(texts(f, pos), ["line 0", "line 1"]);
    }

    #[test]
    fn a_missing_log_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let f = LogFiles::open(&dir.path().join("log"), u64::MAX).unwrap();
        let pos = f.tail_start(3, |_| true).unwrap();
        assert!(texts(f, pos).is_empty());
    }
}
