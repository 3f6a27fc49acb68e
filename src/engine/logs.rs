//! `logs` and attached `up`: container logs with docker compose's `web-1  | `
//! prefixes, filtered, tailed, and followed across restarts and recreates.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::container::list::{find, Found};
use crate::container::ContainerState;
use crate::supervise::logfile::{rotated, Entry, Stream};
use crate::supervise::logread::{LogFiles, Records};

/// How to show logs.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Only these services (empty: all).
    pub services: Vec<String>,
    /// `-f`.
    pub follow: bool,
    /// `--tail N` per container.
    pub tail: Option<usize>,
    /// `--since`.
    pub since: Option<SystemTime>,
    /// `--until`.
    pub until: Option<SystemTime>,
    /// `-t`.
    pub timestamps: bool,
    /// `--no-color`.
    pub no_color: bool,
    /// `--no-log-prefix`.
    pub no_prefix: bool,
    /// Include one-off (`run`) containers.
    pub oneoff: bool,
    /// `--index N`: only replica N of the service.
    pub index: Option<u32>,
}

const COLORS: &[&str] = &["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

/// The value of a `--since`/`--until` flag named `flag`, if given.
pub fn time_flag(
    value: Option<&str>,
    flag: &str,
    now: SystemTime,
) -> anyhow::Result<Option<SystemTime>> {
    value
        .map(|v| parse_time(v, now).ok_or_else(|| anyhow::anyhow!("invalid --{flag} {v:?}")))
        .transpose()
}

/// Parses `--since`/`--until`: RFC 3339, Unix seconds, or a duration ago (`10m`).
pub fn parse_time(s: &str, now: SystemTime) -> Option<SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Some(t);
    }
    if let Ok(secs) = s.parse::<f64>() {
        return Some(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs));
    }
    humantime::parse_duration(s).ok().map(|d| now - d)
}

/// The name a container's lines carry: `web-1`, or a one-off's full name.
pub fn prefix_name(f: &Found) -> String {
    if f.record.oneoff {
        f.record.name.clone()
    } else {
        format!("{}-{}", f.record.service, f.record.number)
    }
}

struct Source {
    name: String,
    color: &'static str,
    path: PathBuf,
    offset: u64,
    /// The inode of the live file `offset` is in: a new one means the log
    /// rotated, and the rest of the old file (now `log.1`) comes first.
    ino: Option<u64>,
}

fn print_entry(out: &mut dyn Write, src: &Source, width: usize, e: &Entry, opts: &LogOptions) {
    let mut line = String::new();
    if !opts.no_prefix {
        if opts.no_color {
            line.push_str(&format!("{:<width$} | ", src.name));
        } else {
            line.push_str(&format!(
                "\x1b[{}m{:<width$} |\x1b[0m ",
                src.color, src.name
            ));
        }
    }
    if opts.timestamps {
        line.push_str(&e.time);
        line.push(' ');
    }
    line.push_str(e.log.strip_suffix('\n').unwrap_or(&e.log));
    let _ = writeln!(out, "{line}");
}

fn wanted(e: &Entry, opts: &LogOptions) -> bool {
    let t = e.timestamp();
    if let (Some(since), Some(t)) = (opts.since, t) {
        if t < since {
            return false;
        }
    }
    if let (Some(until), Some(t)) = (opts.until, t) {
        if t > until {
            return false;
        }
    }
    true
}

/// Follows the log files of a project's containers, printing each record once,
/// with the container's prefix and colour; containers that appear later
/// (recreated, scaled, restarted) are picked up from their first record.
pub struct Follower {
    root: PathBuf,
    project: String,
    opts: LogOptions,
    sources: BTreeMap<String, Source>,
    width: usize,
    color_i: usize,
    last_scan: Instant,
}

impl Follower {
    /// Starts following the containers there are now, from the end of their logs.
    pub fn new(root: &Path, project: &str, opts: &LogOptions) -> Follower {
        let mut f = Follower {
            root: root.to_path_buf(),
            project: project.to_string(),
            opts: opts.clone(),
            sources: BTreeMap::new(),
            width: 0,
            color_i: 0,
            last_scan: Instant::now(),
        };
        for c in f.selected(find(root, Some(project))) {
            f.add(&c, false);
        }
        f
    }

    fn selected(&self, all: Vec<Found>) -> Vec<Found> {
        all.into_iter()
            .filter(|f| {
                (self.opts.oneoff || !f.record.oneoff)
                    && (self.opts.services.is_empty()
                        || self.opts.services.contains(&f.record.service))
                    && self
                        .opts
                        .index
                        .is_none_or(|n| !f.record.oneoff && f.record.number == n)
            })
            .collect()
    }

    fn add(&mut self, f: &Found, from_start: bool) {
        let name = prefix_name(f);
        self.width = self.width.max(name.len() + 1);
        let path = crate::state::ContainerDir::new(&f.dir).log();
        let color = COLORS[self.color_i % COLORS.len()];
        self.color_i += 1;
        let meta = std::fs::metadata(&path).ok();
        let ino = meta.as_ref().map(|m| m.ino());
        let offset = match meta {
            Some(m) if !from_start => m.len(),
            _ => 0,
        };
        self.sources.insert(
            f.record.id.clone(),
            Source {
                name,
                color,
                path,
                offset,
                ino,
            },
        );
    }

    /// The prefixes of the followed containers, sorted (`Attaching to …`).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.sources.values().map(|s| s.name.clone()).collect();
        v.sort();
        v
    }

    /// Prints what the logs held before following started: all of it, or the
    /// last `tail` records per container, merged across containers in time
    /// order. Streams: one record per container is held at a time, and `tail`
    /// reads each log from its end.
    pub fn backlog(&mut self, out: &mut dyn Write, err: &mut dyn Write) {
        let mut streams: Vec<(&String, std::iter::Peekable<Records>)> = vec![];
        for (id, src) in &self.sources {
            // Up to where following starts, so no record is shown twice or lost.
            let Ok(files) = LogFiles::open(&src.path, src.offset) else {
                continue;
            };
            let start = match self.opts.tail {
                Some(n) => files.tail_start(n, |e| wanted(e, &self.opts)),
                None => Ok(files.start()),
            };
            let Ok(start) = start else {
                continue;
            };
            streams.push((id, files.records_from(start).peekable()));
        }
        loop {
            // The stream whose next wanted record is the oldest.
            let mut first: Option<(usize, String)> = None;
            for (i, (_, records)) in streams.iter_mut().enumerate() {
                while records
                    .peek()
                    .is_some_and(|r| r.as_ref().is_ok_and(|e| !wanted(e, &self.opts)))
                {
                    records.next();
                }
                let Some(Ok(e)) = records.peek() else {
                    continue;
                };
                if first.as_ref().is_none_or(|(_, t)| e.time < *t) {
                    first = Some((i, e.time.clone()));
                }
            }
            let Some((i, _)) = first else {
                break;
            };
            let (id, records) = &mut streams[i];
            let Some(Ok(e)) = records.next() else {
                continue;
            };
            let w: &mut dyn Write = if e.stream == Stream::Stderr {
                &mut *err
            } else {
                &mut *out
            };
            print_entry(w, &self.sources[*id], self.width, &e, &self.opts);
        }
        let _ = out.flush();
        let _ = err.flush();
    }

    /// Prints every record written since the last call; returns whether there
    /// were any.
    pub fn pump(&mut self, out: &mut dyn Write, err: &mut dyn Write) -> bool {
        let mut any = false;
        for src in self.sources.values_mut() {
            any |= pump_source(src, self.width, &self.opts, out, err);
        }
        if any {
            let _ = out.flush();
            let _ = err.flush();
        }
        any
    }

    /// Every half second: adds the containers that appeared since the last
    /// look, and says whether any followed container still runs.
    pub fn rescan_due(&mut self) -> Option<bool> {
        (self.last_scan.elapsed() > Duration::from_millis(500)).then(|| self.rescan())
    }

    fn rescan(&mut self) -> bool {
        self.last_scan = Instant::now();
        let now = self.selected(find(&self.root, Some(&self.project)));
        for f in &now {
            if !self.sources.contains_key(&f.record.id) {
                self.add(f, true);
            }
        }
        now.iter().any(|f| {
            matches!(
                f.status.state,
                ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
            )
        })
    }

    /// Prints `<name> <msg>` in the container's colour, as docker compose reports
    /// a container's exit (`web-1 exited with code 0`).
    pub fn status(&self, out: &mut dyn Write, id: &str, name: &str, msg: &str) {
        let color = self.sources.get(id).map(|s| s.color);
        let line = match color {
            Some(c) if !self.opts.no_color => format!("\x1b[{c}m{name} {msg}\x1b[0m"),
            _ => format!("{name} {msg}"),
        };
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Prints the complete records appended to one log since its offset, the end
/// of the file it rotated away from first.
fn pump_source(
    src: &mut Source,
    width: usize,
    opts: &LogOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> bool {
    let Ok(file) = File::open(&src.path) else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    let mut any = false;
    if src.ino.is_some_and(|ino| ino != meta.ino()) {
        let old = File::open(rotated(&src.path, 1));
        if let Ok(old) = old {
            if old.metadata().is_ok_and(|m| Some(m.ino()) == src.ino) {
                let mut offset = src.offset;
                any |= print_new(old, &mut offset, src, width, opts, out, err);
            }
        }
        src.offset = 0;
    }
    src.ino = Some(meta.ino());
    if meta.len() < src.offset {
        // Truncated in place: start over.
        src.offset = 0;
    }
    if meta.len() > src.offset {
        let mut offset = src.offset;
        any |= print_new(file, &mut offset, src, width, opts, out, err);
        src.offset = offset;
    }
    any
}

/// Prints the complete records of `file` from `offset` on, moving `offset`
/// past them (an unfinished last line waits for the next look).
fn print_new(
    mut file: File,
    offset: &mut u64,
    src: &Source,
    width: usize,
    opts: &LogOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> bool {
    if file.seek(SeekFrom::Start(*offset)).is_err() {
        return false;
    }
    let mut any = false;
    let mut reader = BufReader::new(file);
    let mut buf = String::new();
    while let Ok(n) = reader.read_line(&mut buf) {
        if n == 0 || !buf.ends_with('\n') {
            break;
        }
        *offset += n as u64;
        if let Ok(e) = serde_json::from_str::<Entry>(&buf) {
            if wanted(&e, opts) {
                let w: &mut dyn Write = if e.stream == Stream::Stderr {
                    &mut *err
                } else {
                    &mut *out
                };
                print_entry(w, src, width, &e, opts);
                any = true;
            }
        }
        buf.clear();
    }
    any
}

/// Prints the logs of `project`'s containers; with `follow`, keeps printing until
/// every container has stopped or `stop` turns true.
pub fn show(
    root: &Path,
    project: &str,
    opts: &LogOptions,
    stop: &AtomicBool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) {
    let mut follower = Follower::new(root, project, opts);
    follower.backlog(out, err);
    if !opts.follow {
        return;
    }
    loop {
        let any = follower.pump(out, err);
        if stop.load(Ordering::Relaxed) {
            return;
        }
        // One last pass picks up what was written just before the end.
        if follower.rescan_due() == Some(false) && !any {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn following_a_log_that_rotates_misses_nothing() {
        use crate::supervise::logfile::{LogWriter, Rotation};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let rot = Rotation {
            max_size: 400,
            max_files: 3,
        };
        let mut w = LogWriter::open(&path, Some(rot)).unwrap();
        let t = SystemTime::UNIX_EPOCH;
        let mut src = Source {
            name: "a-1".into(),
            color: "36",
            path: path.clone(),
            offset: 0,
            ino: None,
        };
        let opts = LogOptions {
            no_prefix: true,
            ..LogOptions::default()
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut n = 0;
        let mut line = |w: &mut LogWriter| {
            w.write(Stream::Stdout, format!("line {n}\n").as_bytes(), t)
                .unwrap();
            n += 1;
        };
        line(&mut w);
        line(&mut w);
        pump_source(&mut src, 0, &opts, &mut out, &mut err);
        // The live file is renamed to log.1 with records not yet shown in it,
        // and the new live file gets one.
        while !rotated(&path, 1).exists() {
            line(&mut w);
        }
        pump_source(&mut src, 0, &opts, &mut out, &mut err);
        let text = String::from_utf8(out).unwrap();
        let got: Vec<&str> = text.lines().collect();
        let want: Vec<String> = (0..got.len()).map(|i| format!("line {i}")).collect();
        assert!(got.len() > 5, "{got:?}");
        assert_eq!(got, want);
        assert!(!rotated(&path, 2).exists());
    }

    #[test]
    fn times_parse_in_docker_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(
            parse_time("10s", now),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(990))
        );
        assert_eq!(
            parse_time("100", now),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(100))
        );
        assert!(parse_time("1970-01-01T00:00:05Z", now).is_some());
        assert!(parse_time("nonsense", now).is_none());
    }
}
