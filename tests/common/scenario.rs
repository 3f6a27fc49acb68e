//! What the ports of docker compose's `pkg/e2e` scenarios share: small queries
//! over `ps`/`ls`, a berth run to its end, and the fixtures more than one
//! `tests/compose_e2e_*.rs` file uses.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

use super::{by_name, states, World};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// `name → ID`, sorted by name.
pub fn ids(w: &World, p: &Path) -> BTreeMap<String, String> {
    by_name(w, p)
        .into_iter()
        .map(|(n, c)| (n, c["ID"].as_str().unwrap().to_string()))
        .collect()
}

/// A `BTreeMap<String, String>` from pairs, for comparing with `states`.
pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Whether `logs` output has a line `<prefix><padding>| <text>`.
pub fn has_line(logs: &str, prefix: &str, text: &str) -> bool {
    logs.lines().any(|l| {
        l.strip_prefix(prefix)
            .and_then(|rest| rest.trim_start().strip_prefix("| "))
            .is_some_and(|rest| rest == text || rest.starts_with(&format!("{text} ")))
    })
}

/// An RFC 3339 timestamp with its fraction padded to nanoseconds, so that two
/// compare as strings.
pub fn sortable_time(t: &str) -> String {
    let t = t.trim_end_matches('Z');
    let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
    format!("{secs}.{frac:0<9}")
}

/// Waits until `ps` shows exactly `want` (name → state).
pub fn wait_states(w: &World, p: &Path, secs: u64, want: &[(&str, &str)]) {
    let want = map(want);
    w.wait_until(secs, &format!("states {want:?}"), || states(w, p) == want);
}

/// `ls -a --format json` (or without `-a`) as `name → Status`.
pub fn ls(w: &World, p: &Path, all: bool) -> BTreeMap<String, String> {
    let mut args = vec!["ls", "--format", "json"];
    if all {
        args.push("-a");
    }
    let out = w.ok(p, &args);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["Name"].as_str().unwrap().to_string(),
                e["Status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Imports, under `IMAGE`, the busybox image plus `/etc/variant` holding
/// `marker`: a "rebuilt" image with a new ID, since berth cannot build yet.
pub fn reimport_variant(w: &World, marker: &str) {
    let dst = w.dir.path().join(format!("busybox-{marker}.tar"));
    let mut b = tar::Builder::new(std::fs::File::create(&dst).unwrap());
    let mut a = tar::Archive::new(std::fs::File::open(super::busybox_tar()).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let mut h = e.header().clone();
        let path = e.path().unwrap().into_owned();
        b.append_data(&mut h, path, &mut e).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(marker.len() as u64);
    b.append_data(&mut h, "etc/variant", marker.as_bytes())
        .unwrap();
    b.finish().unwrap();
    drop(b);
    w.ok(
        w.dir.path(),
        &["image", "import", dst.to_str().unwrap(), super::IMAGE],
    );
}

/// Runs berth to its end; returns (exit code, stdout, stderr).
pub fn run(w: &World, p: &Path, args: &[&str]) -> (i32, String, String) {
    let out = w.berth_in(p, args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The last line of `text`.
pub fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or("")
}

/// The one-off containers of `service` (`<project>-<service>-run-<hex>`).
pub fn oneoffs(w: &World, p: &Path, project: &str, service: &str) -> Vec<serde_json::Value> {
    let prefix = format!("{project}-{service}-run-");
    by_name(w, p)
        .into_iter()
        .filter(|(n, _)| n.starts_with(&prefix))
        .map(|(_, c)| c)
        .collect()
}

/// stdout and stderr of a berth run with extra environment.
pub fn combined(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The content of a file in a named volume of this world.
pub fn volume_file(w: &World, volume: &str, file: &str) -> String {
    fs::read_to_string(
        w.root()
            .join("volumes")
            .join(volume)
            .join("_data")
            .join(file),
    )
    .unwrap_or_default()
}

/// When container `id`'s current (or last) run started, as its supervisor
/// recorded it: two reads differ exactly when it was started again in between,
/// which the "Up N seconds" of `ps` cannot tell apart from the clock ticking.
pub fn started_at(w: &World, id: &str) -> Option<f64> {
    let layout = berth::state::Layout::new(&w.root(), None);
    berth::container::Status::load(&layout.container(id))
        .ok()
        .and_then(|s| s.started_at)
}

/// A berth command left running (an attached `up`, `logs -f`): what it printed
/// so far, awaited line by line; killed when dropped.
pub struct Background {
    child: std::process::Child,
    out: std::sync::Arc<std::sync::Mutex<String>>,
    err: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Background {
    /// Starts `berth ARGS` in `p` with extra environment.
    pub fn start(w: &World, p: &Path, args: &[&str], env: &[(&str, &str)]) -> Background {
        use std::io::Read;
        let mut child = w
            .berth_command(p, args)
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pump = |mut r: Box<dyn Read + Send>| {
            let buf = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let b = buf.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    b.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
            });
            buf
        };
        let out = pump(Box::new(child.stdout.take().unwrap()));
        let err = pump(Box::new(child.stderr.take().unwrap()));
        Background { child, out, err }
    }

    /// stdout so far.
    pub fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// stderr so far.
    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// stdout and stderr so far.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout(), self.err.lock().unwrap())
    }

    /// Waits until stdout holds `text`.
    pub fn wait_for(&self, w: &World, secs: u64, text: &str) {
        w.wait_until(secs, &format!("{text:?} in {}", self.output()), || {
            self.stdout().contains(text)
        });
    }

    /// Whether the command still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the command to end; returns its exit code.
    pub fn wait(&mut self, w: &World, secs: u64) -> i32 {
        let mut code = None;
        w.wait_until(secs, "the command to end", || {
            code = self
                .child
                .try_wait()
                .unwrap()
                .map(|s| s.code().unwrap_or(-1));
            code.is_some()
        });
        // The readers finish once the pipes close; their text is what was printed.
        w.wait_until(10, "its output to be read", || {
            std::sync::Arc::strong_count(&self.out) == 1
                && std::sync::Arc::strong_count(&self.err) == 1
        });
        code.unwrap()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
