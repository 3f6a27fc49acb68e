//! Build progress as BuildKit prints it. Plain:
//!
//! ```text
//! #3 [build 2/4] RUN make
//! #3 0.412 cc -o app main.c
//! #3 DONE 0.9s
//!
//! #4 [build 3/4] COPY . .
//! #4 CACHED
//! ```
//!
//! Every step is a vertex `#N`; its output lines carry the seconds since the step
//! started. `quiet` prints nothing, `json` one object per event. On a terminal
//! ([`Mode::Tty`], [`super::progress_tty`]) BuildKit's collapsing view, redrawn in place:
//!
//! ```text
//! [+] Building 2.3s (4/5)
//!  => [build 1/4] FROM busybox                                        0.0s
//!  => CACHED [build 2/4] WORKDIR /app                                 0.0s
//!  => [build 3/4] RUN make                                            1.2s
//!  => => # cc -o app main.c
//! ```

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// How progress is shown (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// BuildKit's collapsing view, redrawn in place (a terminal).
    Tty,
    /// `#N …` lines.
    Plain,
    /// Nothing.
    Quiet,
    /// One JSON object per event.
    Json,
}

impl Mode {
    /// Parses `--progress` (`auto`: the view on a terminal, plain lines elsewhere).
    pub fn parse(s: &str) -> Option<Mode> {
        use std::io::IsTerminal;
        match s {
            "tty" => Some(Mode::Tty),
            "auto" if std::io::stderr().is_terminal() => Some(Mode::Tty),
            "auto" | "plain" => Some(Mode::Plain),
            "quiet" => Some(Mode::Quiet),
            "json" | "rawjson" => Some(Mode::Json),
            _ => None,
        }
    }
}

/// Where build progress goes (stderr).
pub struct Progress {
    mode: Mode,
    next: AtomicUsize,
    out: Mutex<State>,
    /// A prefix for step names (the compose service: `[web build 2/4]`).
    pub prefix: String,
    /// The terminal view (`Mode::Tty` only).
    tty: Option<super::progress_tty::View>,
}

struct State {
    starts: std::collections::HashMap<usize, Instant>,
    names: std::collections::HashMap<usize, String>,
    last: Option<usize>,
}

/// One vertex of the display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vertex(pub usize);

impl Progress {
    /// A display in `mode`.
    pub fn new(mode: Mode, prefix: &str) -> Progress {
        Progress {
            mode,
            next: AtomicUsize::new(1),
            out: Mutex::new(State {
                starts: Default::default(),
                names: Default::default(),
                last: None,
            }),
            prefix: prefix.to_string(),
            tty: (mode == Mode::Tty).then(super::progress_tty::View::new),
        }
    }

    /// Ends the terminal view (`[+] Building 2.3s (9/9) FINISHED`); what is
    /// printed after it goes below. Nothing in the other modes.
    pub fn finish(&self) {
        if let Some(t) = &self.tty {
            t.finish();
        }
    }

    fn emit(&self, v: usize, text: &str, ends: bool) {
        let mut st = self.out.lock().expect("progress");
        let mut err = std::io::stderr().lock();
        if st.last.is_some_and(|l| l != v) && !ends {
            // BuildKit separates vertices with a blank line when output switches.
        }
        let _ = writeln!(err, "#{v} {text}");
        if ends {
            let _ = writeln!(err);
            st.last = None;
        } else {
            st.last = Some(v);
        }
    }

    fn json(&self, v: usize, event: &str, extra: serde_json::Value) {
        let mut obj = serde_json::json!({"vertex": v, "event": event});
        if let (Some(o), serde_json::Value::Object(e)) = (obj.as_object_mut(), extra) {
            o.extend(e);
        }
        let _lock = self.out.lock().expect("progress");
        let _ = writeln!(std::io::stderr().lock(), "{obj}");
    }

    /// A new vertex named `name` (`[stage 2/5] RUN …`), started now.
    pub fn start(&self, name: &str) -> Vertex {
        let v = self.next.fetch_add(1, Ordering::SeqCst);
        self.out
            .lock()
            .expect("progress")
            .starts
            .insert(v, Instant::now());
        let name = if self.prefix.is_empty() {
            name.to_string()
        } else if let Some(rest) = name.strip_prefix('[') {
            format!("[{} {rest}", self.prefix)
        } else {
            format!("[{}] {name}", self.prefix)
        };
        self.out
            .lock()
            .expect("progress")
            .names
            .insert(v, name.clone());
        match self.mode {
            Mode::Tty => self.view().start(v, &name),
            Mode::Plain => self.emit(v, &name, false),
            Mode::Json => self.json(v, "start", serde_json::json!({"name": name})),
            Mode::Quiet => {}
        }
        Vertex(v)
    }

    fn view(&self) -> &super::progress_tty::View {
        self.tty.as_ref().expect("the view exists in tty mode")
    }

    fn elapsed(&self, v: Vertex) -> f64 {
        self.out
            .lock()
            .expect("progress")
            .starts
            .get(&v.0)
            .map(|t| t.elapsed().as_secs_f64())
            .unwrap_or(0.0)
    }

    /// The name a vertex was started with.
    pub fn name(&self, v: Vertex) -> String {
        self.out
            .lock()
            .expect("progress")
            .names
            .get(&v.0)
            .cloned()
            .unwrap_or_default()
    }

    /// An output line of the vertex's command.
    pub fn line(&self, v: Vertex, text: &str) {
        let t = self.elapsed(v);
        match self.mode {
            Mode::Plain => {
                let stamp = if t < 10.0 {
                    format!("{t:.3}")
                } else {
                    format!("{t:.2}")
                };
                self.emit(v.0, &format!("{stamp} {text}"), false)
            }
            Mode::Tty => self.view().log(v.0, text),
            Mode::Json => self.json(v.0, "log", serde_json::json!({"text": text, "t": t})),
            Mode::Quiet => {}
        }
    }

    /// A status line (`transferring context: 4.5MB`).
    pub fn status(&self, v: Vertex, text: &str) {
        match self.mode {
            Mode::Tty => self.view().log(v.0, text),
            Mode::Plain => self.emit(v.0, text, false),
            Mode::Json => self.json(v.0, "status", serde_json::json!({"text": text})),
            Mode::Quiet => {}
        }
    }

    /// The vertex was a cache hit.
    pub fn cached(&self, v: Vertex) {
        match self.mode {
            Mode::Tty => self.view().end(v.0, super::progress_tty::End::Cached),
            Mode::Plain => self.emit(v.0, "CACHED", true),
            Mode::Json => self.json(v.0, "cached", serde_json::json!({})),
            Mode::Quiet => {}
        }
    }

    /// The vertex finished.
    pub fn done(&self, v: Vertex) {
        let t = self.elapsed(v);
        match self.mode {
            Mode::Tty => self.view().end(v.0, super::progress_tty::End::Done),
            Mode::Plain => self.emit(v.0, &format!("DONE {t:.1}s"), true),
            Mode::Json => self.json(v.0, "done", serde_json::json!({"seconds": t})),
            Mode::Quiet => {}
        }
    }

    /// The vertex failed.
    pub fn error(&self, v: Vertex, msg: &str) {
        match self.mode {
            Mode::Tty => self.view().end(v.0, super::progress_tty::End::Error),
            Mode::Plain => self.emit(v.0, &format!("ERROR: {msg}"), true),
            Mode::Json => self.json(v.0, "error", serde_json::json!({"error": msg})),
            Mode::Quiet => {}
        }
    }

    /// The vertex was cancelled.
    pub fn canceled(&self, v: Vertex) {
        match self.mode {
            Mode::Tty => self.view().end(v.0, super::progress_tty::End::Canceled),
            Mode::Plain => self.emit(v.0, "CANCELED", true),
            Mode::Json => self.json(v.0, "canceled", serde_json::json!({})),
            Mode::Quiet => {}
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
