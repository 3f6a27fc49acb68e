//! `berth watch` with sync rules: edits, creations, deletions, renames and
//! directory moves reach the running container; ignored files do not; a
//! 5,000-file burst arrives whole in one batch; a stopped container gets
//! deletions too.

mod common;
mod watch_common;

use std::fs;

use common::World;
use watch_common::{await_content, cat, sh, Watching};

const SYNC: &str = r#"
services:
  web:
    image: IMAGE
    init: true
    user: "1234:5678"
    command: ["sleep", "3600"]
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
          ignore:
            - "*.tmp"
            - node_modules/
"#;

#[test]
fn edits_creations_deletions_renames_and_moves_reach_the_container() {
    let w = World::new();
    let p = w.project("wsync", SYNC);
    fs::create_dir_all(p.join("src/node_modules/dep")).unwrap();
    fs::create_dir_all(p.join("src/.git")).unwrap();
    w.ok(&p, &["up", "-d"]);
    let mut watch = Watching::start(&w, &p, &["--no-up"], &[]);

    fs::write(p.join("src/a.txt"), "one\n").unwrap();
    await_content(&w, &p, "/app/a.txt", Some("one\n"));
    watch.wait_line("Syncing service \"web\" after 1 changes were detected", 10);
    // Owned by the service's user, as docker compose's copy makes it.
    assert_eq!(sh(&w, &p, "stat -c %u:%g /app/a.txt"), "1234:5678\n");

    fs::write(p.join("src/a.txt"), "two\n").unwrap();
    await_content(&w, &p, "/app/a.txt", Some("two\n"));

    fs::create_dir_all(p.join("src/d/e")).unwrap();
    fs::write(p.join("src/d/e/f.txt"), "deep\n").unwrap();
    await_content(&w, &p, "/app/d/e/f.txt", Some("deep\n"));

    fs::rename(p.join("src/a.txt"), p.join("src/b.txt")).unwrap();
    await_content(&w, &p, "/app/b.txt", Some("two\n"));
    await_content(&w, &p, "/app/a.txt", None);

    fs::remove_file(p.join("src/b.txt")).unwrap();
    await_content(&w, &p, "/app/b.txt", None);

    // A directory moved within the tree, then one moved in from outside it.
    fs::rename(p.join("src/d"), p.join("src/moved")).unwrap();
    await_content(&w, &p, "/app/moved/e/f.txt", Some("deep\n"));
    await_content(&w, &p, "/app/d/e/f.txt", None);
    fs::create_dir_all(p.join("outside/x")).unwrap();
    fs::write(p.join("outside/x/y.txt"), "moved in\n").unwrap();
    fs::rename(p.join("outside"), p.join("src/in")).unwrap();
    await_content(&w, &p, "/app/in/x/y.txt", Some("moved in\n"));

    // Ignored: the rule's patterns, .git, editor temp files. A marker file
    // written after them proves their batch has been handled.
    fs::write(p.join("src/x.tmp"), "no").unwrap();
    fs::write(p.join("src/node_modules/dep/i.js"), "no").unwrap();
    fs::write(p.join("src/.git/HEAD"), "no").unwrap();
    fs::write(p.join("src/.a.txt.swp"), "no").unwrap();
    fs::write(p.join("src/marker"), "m").unwrap();
    await_content(&w, &p, "/app/marker", Some("m"));
    assert_eq!(
        sh(
            &w,
            &p,
            "ls -a /app | tr '\\n' ' '; ls /app/node_modules 2>&1 >/dev/null | wc -l"
        ),
        ". .. in marker moved 1\n"
    );

    let lines = watch.stop();
    assert!(lines.iter().any(|l| l == "Watch disabled"), "{lines:?}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn a_burst_of_5000_files_is_one_batch_and_nothing_is_lost() {
    let w = World::new();
    let p = w.project("wburst", SYNC);
    fs::create_dir_all(p.join("src")).unwrap();
    w.ok(&p, &["up", "-d"]);
    // docker compose's quiet period: a burst under load still ends up in one batch.
    let mut watch = Watching::start(&w, &p, &["--no-up"], &[("BERTH_WATCH_QUIET_MS", "500")]);
    let dir = p.join("src/burst");
    fs::create_dir_all(&dir).unwrap();
    for i in 0..5000 {
        fs::write(dir.join(format!("f{i:04}")), format!("{i}\n")).unwrap();
    }
    let line = watch.wait_line("Syncing service \"web\" after", 60);
    // The files, their directory, and the watched directory itself.
    let n: usize = line
        .split("after ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!((5001..=5002).contains(&n), "{line}");
    assert!(
        watch
            .seen
            .iter()
            .any(|l| l.starts_with("Large batch of file changes detected")),
        "{:?}",
        watch.seen
    );
    // The line comes before the copy: await its end.
    w.wait_until(30, "5000 files in the container", || {
        sh(&w, &p, "ls /app/burst | wc -l") == "5000\n"
    });
    assert_eq!(cat(&w, &p, "/app/burst/f4999").as_deref(), Some("4999\n"));
    drop(watch);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn a_burst_without_a_quiet_period_lands_whole() {
    let w = World::new();
    let p = w.project("wburst2", SYNC);
    fs::create_dir_all(p.join("src")).unwrap();
    w.ok(&p, &["up", "-d"]);
    // Batches end as soon as the queue drains: the burst may come in several,
    // and every file still lands with its content.
    let watch = Watching::start(&w, &p, &["--no-up"], &[]);
    let dir = p.join("src/burst");
    fs::create_dir_all(&dir).unwrap();
    let mut want = String::new();
    for i in 0..5000 {
        fs::write(dir.join(format!("f{i:04}")), format!("{i}\n")).unwrap();
        want.push_str(&format!("{i}\n"));
    }
    w.wait_until(30, "5000 files in the container", || {
        sh(&w, &p, "ls /app/burst | wc -l") == "5000\n"
    });
    w.wait_until(30, "every file's content", || {
        sh(&w, &p, "cat /app/burst/*") == want
    });
    drop(watch);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn deletions_reach_a_stopped_container() {
    let w = World::new();
    let p = w.project("wstopped", SYNC);
    fs::create_dir_all(p.join("src")).unwrap();
    fs::write(p.join("src/keep"), "k\n").unwrap();
    fs::write(p.join("src/gone"), "g\n").unwrap();
    w.ok(&p, &["up", "-d"]);
    let mut watch = Watching::start(&w, &p, &["--no-up"], &[]);
    fs::write(p.join("src/gone"), "g2\n").unwrap();
    fs::write(p.join("src/keep"), "k2\n").unwrap();
    await_content(&w, &p, "/app/gone", Some("g2\n"));
    await_content(&w, &p, "/app/keep", Some("k2\n"));

    w.ok(&p, &["stop", "-t", "0", "web"]);
    fs::remove_file(p.join("src/gone")).unwrap();
    fs::write(p.join("src/keep"), "k3\n").unwrap();
    watch.wait_line("Syncing service \"web\" after", 20);
    w.ok(&p, &["start", "web"]);
    await_content(&w, &p, "/app/keep", Some("k3\n"));
    assert_eq!(cat(&w, &p, "/app/gone"), None);
    drop(watch);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
