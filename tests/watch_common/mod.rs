//! A `berth watch` running beside a test: its output read line by line, so a
//! test awaits "Watch enabled" or "Syncing …" instead of sleeping.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::common::World;

/// A foreground `berth watch`.
pub struct Watching {
    child: Child,
    lines: Receiver<String>,
    /// Every line so far.
    pub seen: Vec<String>,
}

impl Watching {
    /// Starts `berth watch ARGS` in `dir` and waits for "Watch enabled".
    pub fn start(w: &World, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Watching {
        let mut a = vec!["watch"];
        a.extend_from_slice(args);
        let mut child = w
            .berth_command(dir, &a)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        for r in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines().map_while(Result::ok) {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
        }
        let mut me = Watching {
            child,
            lines: rx,
            seen: vec![],
        };
        me.wait_line("Watch enabled", 60);
        me
    }

    /// Waits for a line containing `pat`; returns it.
    pub fn wait_line(&mut self, pat: &str, secs: u64) -> String {
        let t0 = Instant::now();
        loop {
            let left = Duration::from_secs(secs).saturating_sub(t0.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(pat) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no line with {pat:?} in {secs}s; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Lines that came so far without waiting.
    pub fn drain(&mut self) -> &[String] {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
        &self.seen
    }

    /// Waits for it to end on its own; whether it did within `secs`.
    pub fn ends_within(&mut self, secs: u64) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(secs) {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            // Its output closes when it exits: that is the event to wait on.
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(l) => self.seen.push(l),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return self.child.wait().is_ok();
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
        false
    }

    /// Ctrl-C, and its exit.
    pub fn stop(mut self) -> Vec<String> {
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.child.wait().unwrap();
        self.drain();
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `cat PATH` prints in the service's container (None: no such file).
pub fn cat(w: &World, dir: &Path, path: &str) -> Option<String> {
    let out = w.berth_in(dir, &["exec", "-T", "web", "cat", path]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a shell line in the service's container; its stdout.
pub fn sh(w: &World, dir: &Path, script: &str) -> String {
    w.ok(dir, &["exec", "-T", "web", "sh", "-c", script])
}

/// Waits until `cat PATH` gives `want` (None: the file is gone).
pub fn await_content(w: &World, dir: &Path, path: &str, want: Option<&str>) {
    w.wait_until(20, &format!("{path} to be {want:?}"), || {
        cat(w, dir, path).as_deref() == want
    });
}
