//! `logs` and attached `up`: container logs with docker compose's `web-1  | `
//! prefixes, filtered, tailed, and followed across restarts and recreates.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use crate::container::list::{find, Found};
use crate::container::ContainerState;
use crate::supervise::logfile::{read_until, Entry, Stream};

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
}

const COLORS: &[&str] = &["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

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

fn prefix_name(f: &Found) -> String {
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
    let select = |f: &Found| {
        (opts.oneoff || !f.record.oneoff)
            && (opts.services.is_empty() || opts.services.contains(&f.record.service))
    };
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    let mut width = 0;
    let mut color_i = 0;
    let mut add =
        |f: &Found, sources: &mut BTreeMap<String, Source>, width: &mut usize, from_start: bool| {
            let name = prefix_name(f);
            *width = (*width).max(name.len() + 1);
            let path = f.dir.join("log");
            let color = COLORS[color_i % COLORS.len()];
            color_i += 1;
            let offset = if from_start {
                0
            } else {
                std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
            };
            sources.insert(
                f.record.id.clone(),
                Source {
                    name,
                    color,
                    path,
                    offset,
                },
            );
        };
    let containers: Vec<Found> = find(root, Some(project))
        .into_iter()
        .filter(|f| select(f))
        .collect();
    for f in &containers {
        add(f, &mut sources, &mut width, false);
    }
    // What is already there: all of it, or the last `tail` records per container,
    // merged across containers in time order.
    let mut backlog: Vec<(String, Entry)> = vec![];
    for f in &containers {
        let src = &sources[&f.record.id];
        // Up to where following starts, so no record is shown twice or lost.
        let mut entries: Vec<Entry> = read_until(&src.path, src.offset)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| wanted(e, opts))
            .collect();
        if let Some(n) = opts.tail {
            let skip = entries.len().saturating_sub(n);
            entries.drain(..skip);
        }
        backlog.extend(entries.into_iter().map(|e| (f.record.id.clone(), e)));
    }
    backlog.sort_by(|a, b| a.1.time.cmp(&b.1.time));
    for (id, e) in &backlog {
        let w: &mut dyn Write = if e.stream == Stream::Stderr {
            &mut *err
        } else {
            &mut *out
        };
        print_entry(w, &sources[id], width, e, opts);
    }
    let _ = out.flush();
    if !opts.follow {
        return;
    }
    let mut last_scan = std::time::Instant::now();
    loop {
        let mut any = false;
        for src in sources.values_mut() {
            let Ok(mut file) = File::open(&src.path) else {
                continue;
            };
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if len < src.offset {
                // Rotated: the live file starts over.
                src.offset = 0;
            }
            if len == src.offset {
                continue;
            }
            if file.seek(SeekFrom::Start(src.offset)).is_err() {
                continue;
            }
            let mut reader = BufReader::new(file);
            let mut buf = String::new();
            while let Ok(n) = reader.read_line(&mut buf) {
                if n == 0 || !buf.ends_with('\n') {
                    break;
                }
                src.offset += n as u64;
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
        }
        if any {
            let _ = out.flush();
            let _ = err.flush();
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        if last_scan.elapsed() > Duration::from_millis(500) {
            last_scan = std::time::Instant::now();
            let now = find(root, Some(project));
            // New containers (recreated, scaled) are followed from their start.
            for f in now.iter().filter(|f| select(f)) {
                if !sources.contains_key(&f.record.id) {
                    add(f, &mut sources, &mut width, true);
                }
            }
            let running = now.iter().filter(|f| select(f)).any(|f| {
                matches!(
                    f.status.state,
                    ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
                )
            });
            if !running {
                // One last pass picks up what was written just before the end.
                if !any {
                    return;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
