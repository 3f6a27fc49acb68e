//! The progress display of long commands, as docker compose shows it:
//! `[+] Running 3/3` and one line per resource (` ✔ Container p-web-1  Started  0.4s`),
//! or plain lines, JSON events, or nothing.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

const SPINNER: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "✔"];

/// How progress is shown (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Redrawn lines with spinners (a terminal).
    Tty,
    /// One line per event.
    Plain,
    /// One JSON object per event.
    Json,
    /// Nothing.
    Quiet,
}

impl Mode {
    /// Picks the mode from `--progress` (`auto`, `tty`, `plain`, `json`, `quiet`)
    /// and whether stderr is a terminal.
    pub fn from_flag(flag: Option<&str>) -> Mode {
        match flag.unwrap_or("auto") {
            "tty" => Mode::Tty,
            "plain" => Mode::Plain,
            "json" => Mode::Json,
            "quiet" | "none" => Mode::Quiet,
            _ if std::io::stderr().is_terminal() => Mode::Tty,
            _ => Mode::Plain,
        }
    }
}

/// How a resource's work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It worked (`✔`).
    Done,
    /// It worked with a warning (`!`).
    Warning,
    /// It failed (`✘`).
    Error,
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    id: &'a str,
    status: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    details: &'a str,
}

struct Shared {
    mode: Mode,
    operation: String,
    multi: Option<MultiProgress>,
    header: Option<ProgressBar>,
    total: usize,
    done: usize,
    width: usize,
}

/// The display of one command's work; cheap to clone across tasks.
#[derive(Clone)]
pub struct Progress {
    shared: Arc<Mutex<Shared>>,
}

/// One resource being worked on (`Container p-web-1`).
pub struct Task {
    progress: Progress,
    id: String,
    bar: Option<ProgressBar>,
    started: Instant,
    finished: bool,
}

impl Progress {
    /// Starts a display for `operation` (`Running`, `Stopping`, `Pulling`…).
    pub fn new(mode: Mode, operation: &str) -> Progress {
        let (multi, header) = if mode == Mode::Tty {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let header = multi.add(ProgressBar::new_spinner());
            header.set_style(ProgressStyle::with_template("{msg}").expect("static template"));
            (Some(multi), Some(header))
        } else {
            (None, None)
        };
        let p = Progress {
            shared: Arc::new(Mutex::new(Shared {
                mode,
                operation: operation.to_string(),
                multi,
                header,
                total: 0,
                done: 0,
                width: 0,
            })),
        };
        p.redraw_header();
        p
    }

    /// Adds a resource line, e.g. `task("Container p-web-1", "Creating")`.
    pub fn task(&self, id: &str, text: &str) -> Task {
        let bar = {
            let mut s = self.lock();
            s.total += 1;
            s.width = s.width.max(id.chars().count());
            s.multi.as_ref().map(|m| {
                let bar = m.add(ProgressBar::new_spinner());
                bar.set_style(working_style());
                bar.enable_steady_tick(Duration::from_millis(100));
                bar
            })
        };
        let task = Task {
            progress: self.clone(),
            id: id.to_string(),
            bar,
            started: Instant::now(),
            finished: false,
        };
        self.redraw_header();
        task.event(text, "", None);
        task
    }

    /// Prints a line above the display that stays (a warning, a note).
    pub fn println(&self, line: &str) {
        let s = self.lock();
        match (&s.multi, s.mode) {
            (Some(m), _) => {
                let _ = m.println(line);
            }
            (None, Mode::Quiet) => {}
            (None, _) => eprintln!("{line}"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn redraw_header(&self) {
        let s = self.lock();
        if let Some(h) = &s.header {
            h.set_message(format!("[+] {} {}/{}", s.operation, s.done, s.total));
        }
    }
}

impl Task {
    /// Shows that work moved on (`Starting`, `Waiting`, `Pulling 12 MB/40 MB`).
    pub fn working(&self, text: &str) {
        self.event(text, "", None);
    }

    /// Ends the line with `text` (`Started`, `Removed`).
    pub fn done(mut self, text: &str) {
        self.finish(text, "", Outcome::Done);
    }

    /// Ends the line with a warning.
    pub fn warn(mut self, text: &str, details: &str) {
        self.finish(text, details, Outcome::Warning);
    }

    /// Ends the line with an error.
    pub fn fail(mut self, text: &str, details: &str) {
        self.finish(text, details, Outcome::Error);
    }

    fn finish(&mut self, text: &str, details: &str, outcome: Outcome) {
        if self.finished {
            return;
        }
        self.finished = true;
        {
            let mut s = self.progress.lock();
            s.done += 1;
        }
        self.event(text, details, Some(outcome));
        self.progress.redraw_header();
    }

    fn event(&self, text: &str, details: &str, outcome: Option<Outcome>) {
        let (mode, width) = {
            let s = self.progress.lock();
            (s.mode, s.width)
        };
        match mode {
            Mode::Quiet => {}
            Mode::Plain => {
                let mut line = format!("{} {}", self.id, text);
                if !details.is_empty() {
                    line.push(' ');
                    line.push_str(details);
                }
                // One write per line (eprintln! makes two: the text, the newline).
                line.push('\n');
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Mode::Json => {
                let status = match outcome {
                    None => "working",
                    Some(Outcome::Done) => "done",
                    Some(Outcome::Warning) => "warning",
                    Some(Outcome::Error) => "error",
                };
                let ev = JsonEvent {
                    id: &self.id,
                    status,
                    text,
                    details,
                };
                if let Ok(line) = serde_json::to_string(&ev) {
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
            }
            Mode::Tty => {
                let Some(bar) = &self.bar else { return };
                let mut msg = format!("{:<width$}  {text}", self.id);
                if !details.is_empty() {
                    msg.push(' ');
                    msg.push_str(details);
                }
                match outcome {
                    None => bar.set_message(msg),
                    Some(o) => {
                        let mark = match o {
                            Outcome::Done => "\x1b[32m✔\x1b[0m",
                            Outcome::Warning => "\x1b[33m!\x1b[0m",
                            Outcome::Error => "\x1b[31m✘\x1b[0m",
                        };
                        let secs = self.started.elapsed().as_secs_f64();
                        bar.set_style(
                            ProgressStyle::with_template("{msg}").expect("static template"),
                        );
                        bar.finish_with_message(format!(" {mark} {msg:<50} {secs:.1}s"));
                    }
                }
            }
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // A task dropped without an outcome was abandoned by an error path; say so
        // rather than leave a spinner turning.
        if !self.finished && !std::thread::panicking() {
            self.finish("Interrupted", "", Outcome::Error);
        }
    }
}

fn working_style() -> ProgressStyle {
    ProgressStyle::with_template(" {spinner:.blue} {msg}")
        .expect("static template")
        .tick_strings(SPINNER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_done_tasks_in_the_header() {
        let p = Progress::new(Mode::Quiet, "Running");
        let a = p.task("Container p-a-1", "Creating");
        let b = p.task("Container p-b-1", "Creating");
        a.done("Started");
        {
            let s = p.lock();
            assert_eq!((s.done, s.total, s.width), (1, 2, 15));
        }
        b.fail("Error", "boom");
        assert_eq!(p.lock().done, 2);
    }

    #[test]
    fn flag_names_pick_modes() {
        assert_eq!(Mode::from_flag(Some("plain")), Mode::Plain);
        assert_eq!(Mode::from_flag(Some("quiet")), Mode::Quiet);
        assert_eq!(Mode::from_flag(Some("json")), Mode::Json);
        assert_eq!(Mode::from_flag(Some("tty")), Mode::Tty);
    }
}
