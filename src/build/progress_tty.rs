//! BuildKit's terminal view of a build, redrawn in place with indicatif: a header
//! `[+] Building 2.3s (4/5)`, one line per step with its time on the right
//! (`=> CACHED …`, `=> ERROR …` when it ended so), and under a running step the
//! last lines of its output (`=> => # …`), collapsed when the step ends.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Output lines shown under a running step (BuildKit shows 6).
const TAIL: usize = 6;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It ran.
    Done,
    /// A cache hit.
    Cached,
    /// It failed.
    Error,
    /// Ctrl-C.
    Canceled,
}

/// The view of one build.
pub struct View {
    multi: MultiProgress,
    header: ProgressBar,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    steps: HashMap<usize, Step>,
    total: usize,
    done: usize,
    finished: bool,
}

struct Step {
    bar: ProgressBar,
    name: String,
    log: Option<ProgressBar>,
    tail: VecDeque<String>,
}

fn elapsed_key(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.1}s", state.elapsed().as_secs_f64());
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("static template")
        .with_key("t", elapsed_key)
}

/// The terminal's width (80 when it cannot be had).
fn width() -> usize {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ on stderr fills a winsize we own; failure leaves it zeroed.
    let r = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) };
    if r == 0 && ws.ws_col > 20 {
        ws.ws_col as usize
    } else {
        80
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect()
    }
}

impl View {
    /// A view on stderr, its header ticking.
    pub fn new() -> View {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let header = multi.add(ProgressBar::new_spinner());
        header.set_style(style("[+] Building {t} ({msg})"));
        header.set_message("0/0");
        header.enable_steady_tick(Duration::from_millis(100));
        View {
            multi,
            header,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, i: &Inner) {
        self.header.set_message(format!("{}/{}", i.done, i.total));
    }

    /// A step started.
    pub fn start(&self, v: usize, name: &str) {
        let mut i = self.lock();
        if i.finished {
            return;
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(style(" => {wide_msg} {t:>6}"));
        bar.set_message(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        i.total += 1;
        i.steps.insert(
            v,
            Step {
                bar,
                name: name.to_string(),
                log: None,
                tail: VecDeque::new(),
            },
        );
        self.count(&i);
    }

    /// An output (or status) line of a running step: its last lines show under it.
    pub fn log(&self, v: usize, text: &str) {
        let mut i = self.lock();
        let Some(s) = i.steps.get_mut(&v) else {
            return;
        };
        if s.tail.len() == TAIL {
            s.tail.pop_front();
        }
        s.tail.push_back(text.replace('\t', "    "));
        let w = width().saturating_sub(8);
        let msg: Vec<String> = s
            .tail
            .iter()
            .map(|l| format!(" => => # {}", clip(l, w)))
            .collect();
        let log = s.log.get_or_insert_with(|| {
            let b = self.multi.insert_after(&s.bar, ProgressBar::new_spinner());
            b.set_style(style("{msg}"));
            b
        });
        log.set_message(msg.join("\n"));
    }

    /// A step ended: its line keeps its time, its output collapses.
    pub fn end(&self, v: usize, how: End) {
        let mut i = self.lock();
        let Some(s) = i.steps.get_mut(&v) else {
            return;
        };
        if let Some(l) = s.log.take() {
            l.finish_and_clear();
            self.multi.remove(&l);
        }
        let secs = s.bar.elapsed().as_secs_f64();
        let (word, t) = match how {
            End::Done => ("", format!("{secs:.1}s")),
            End::Cached => ("CACHED ", "0.0s".to_string()),
            End::Error => ("ERROR ", format!("{secs:.1}s")),
            End::Canceled => ("CANCELED ", format!("{secs:.1}s")),
        };
        s.bar.set_style(style(" => {wide_msg} {prefix:>6}"));
        s.bar.set_prefix(t);
        s.bar.set_message(format!("{word}{}", s.name));
        s.bar.finish();
        i.done += 1;
        self.count(&i);
    }

    /// The build is over: the header says so, and later output goes below.
    pub fn finish(&self) {
        let mut i = self.lock();
        if i.finished {
            return;
        }
        i.finished = true;
        for s in i.steps.values_mut() {
            if let Some(l) = s.log.take() {
                l.finish_and_clear();
            }
            if !s.bar.is_finished() {
                s.bar.abandon();
            }
        }
        let mut h = String::new();
        let _ = write!(
            h,
            "[+] Building {:.1}s ({}/{}) FINISHED",
            self.header.elapsed().as_secs_f64(),
            i.done,
            i.total
        );
        self.header.set_style(style("{msg}"));
        // Finished bars stay drawn: the final view remains on the screen.
        self.header.finish_with_message(h);
    }
}

impl Default for View {
    fn default() -> Self {
        View::new()
    }
}
