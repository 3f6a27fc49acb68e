//! Detached watch: it outlives the command that started it, is listed and
//! stopped, restarts after a crash, and reconciles what changed while it was
//! not running (content, not names) when it starts again.

mod common;
mod watch_common;

use std::fs;
use std::path::Path;

use common::World;
use watch_common::{await_content, Watching};

const SYNC: &str = r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
"#;

fn watcher_pid(w: &World, p: &Path) -> Option<u32> {
    let s = w.ok(p, &["watch", "--status"]);
    s.split("(pid ")
        .nth(1)
        .and_then(|r| r.trim_end().trim_end_matches(')').parse().ok())
}

#[test]
fn up_detached_with_watch_keeps_watching_until_down() {
    let w = World::new();
    let p = w.project("wdet", SYNC);
    fs::create_dir_all(p.join("src")).unwrap();
    let out = w.ok(&p, &["up", "-d", "--watch"]);
    assert!(out.contains("Watch enabled in the background"), "{out}");
    // The command has returned; the watcher works on.
    let pid = watcher_pid(&w, &p).expect("a watcher runs");
    // Its log, followed as it grows (starts at its first line, "Watch enabled").
    let mut follow = Watching::start(&w, &p, &["--logs", "-f"], &[]);
    fs::write(p.join("src/a"), "a1\n").unwrap();
    await_content(&w, &p, "/app/a", Some("a1\n"));
    follow.wait_line("Syncing service \"web\" after 1 changes were detected", 20);
    // A second start finds the first.
    w.ok(&p, &["watch", "-d", "--no-up"]);
    assert_eq!(watcher_pid(&w, &p), Some(pid));
    let log = w.ok(&p, &["watch", "--logs"]);
    assert!(log.contains("Watch enabled"), "{log}");
    assert!(
        log.contains("Syncing service \"web\" after 1 changes were detected"),
        "{log}"
    );
    w.ok(&p, &["down", "-t", "0"]);
    // Following ends with the watch it follows.
    assert!(follow.ends_within(20), "{:?}", follow.seen);
    assert_eq!(w.ok(&p, &["watch", "--status"]), "wdet: not watching\n");
    w.assert_clean();
}

#[test]
fn a_gap_or_a_crash_loses_nothing() {
    let w = World::new();
    let p = w.project("wgap", SYNC);
    fs::create_dir_all(p.join("src")).unwrap();
    fs::write(p.join("src/same"), "s\n").unwrap();
    w.ok(&p, &["up", "-d"]);
    w.ok(&p, &["watch", "-d", "--no-up"]);
    fs::write(p.join("src/edit"), "e1\n").unwrap();
    fs::write(p.join("src/del"), "d\n").unwrap();
    await_content(&w, &p, "/app/edit", Some("e1\n"));
    await_content(&w, &p, "/app/del", Some("d\n"));

    // A gap: changes made while no watcher runs.
    assert_eq!(w.ok(&p, &["watch", "--stop"]), "Watch stopped\n");
    fs::write(p.join("src/edit"), "e2\n").unwrap();
    fs::remove_file(p.join("src/del")).unwrap();
    fs::write(p.join("src/new"), "n\n").unwrap();
    w.ok(&p, &["watch", "-d", "--no-up"]);
    // Reconciled before it reports it watches.
    await_content(&w, &p, "/app/edit", Some("e2\n"));
    await_content(&w, &p, "/app/del", None);
    await_content(&w, &p, "/app/new", Some("n\n"));
    // Unchanged files were not in that first batch (only what differs is copied).
    await_content(&w, &p, "/app/same", None);

    // A crash: the watcher is killed; its supervisor starts another, which
    // reconciles what changed meanwhile.
    let sup = watcher_pid(&w, &p).unwrap();
    let worker = fs::read_to_string(format!("/proc/{sup}/task/{sup}/children"))
        .unwrap()
        .trim()
        .parse::<i32>()
        .unwrap();
    // SAFETY: kills the watcher this test started.
    unsafe { libc::kill(worker, libc::SIGKILL) };
    fs::write(p.join("src/edit"), "e3\n").unwrap();
    await_content(&w, &p, "/app/edit", Some("e3\n"));
    let log = w.ok(&p, &["watch", "--logs"]);
    assert!(log.contains("restarting it"), "{log}");

    w.ok(&p, &["stop", "-t", "0"]);
    assert_eq!(w.ok(&p, &["watch", "--status"]), "wgap: not watching\n");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
