//! `berth watch` actions beyond sync (sync+exec, restart, sync+restart,
//! rebuild) with docker compose's log lines, and rules refused with errors
//! that name the service and the rule.

mod common;
mod watch_common;

use std::fs;

use common::{fails, World};
use watch_common::{await_content, cat, Watching};

#[test]
fn sync_exec_runs_the_command_and_restart_restarts_the_service() {
    let w = World::new();
    let p = w.project(
        "wact",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sh", "-c", "date +%s%N >> /tmp/starts; exec sleep 3600"]
    develop:
      watch:
        - path: ./src
          action: sync+exec
          target: /app
          exec:
            command: ["sh", "-c", "cat /app/v > /tmp/exec-saw; echo $$GREETING >> /tmp/exec-saw"]
            environment:
              GREETING: hello
        - path: ./conf
          action: sync+restart
          target: /conf
        - path: ./restart-only
          action: restart
"#,
    );
    for d in ["src", "conf", "restart-only"] {
        fs::create_dir_all(p.join(d)).unwrap();
    }
    w.ok(&p, &["up", "-d"]);
    let mut watch = Watching::start(&w, &p, &["--no-up"], &[]);

    fs::write(p.join("src/v"), "v1\n").unwrap();
    await_content(&w, &p, "/tmp/exec-saw", Some("v1\nhello\n"));

    let starts = || cat(&w, &p, "/tmp/starts").map_or(0, |s| s.lines().count());
    assert_eq!(starts(), 1, "{:?}", watch.drain());
    fs::write(p.join("conf/c"), "c1\n").unwrap();
    watch.wait_line("service(s) [\"web\"] restarted", 30);
    await_content(&w, &p, "/conf/c", Some("c1\n"));
    w.wait_until(20, "a second start", || starts() == 2);

    fs::write(p.join("restart-only/x"), "x").unwrap();
    watch.wait_line("service(s) [\"web\"] restarted", 30);
    w.wait_until(20, "a third start", || starts() == 3);
    // restart does not copy anything.
    assert_eq!(cat(&w, &p, "/restart-only/x"), None);
    drop(watch);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn rebuild_builds_and_recreates_the_service() {
    let w = World::new();
    let p = w.project(
        "wrebuild",
        r#"
services:
  web:
    build: .
    init: true
    command: ["sleep", "3600"]
    develop:
      watch:
        - path: ./app.txt
          action: rebuild
"#,
    );
    fs::write(
        p.join("Dockerfile"),
        "FROM localhost/busybox:test\nCOPY app.txt /app.txt\n",
    )
    .unwrap();
    fs::write(p.join("app.txt"), "v1\n").unwrap();
    w.ok(&p, &["up", "-d"]);
    await_content(&w, &p, "/app.txt", Some("v1\n"));
    let mut watch = Watching::start(&w, &p, &["--no-up", "--quiet"], &[]);
    fs::write(p.join("app.txt"), "v2\n").unwrap();
    watch.wait_line(
        "Rebuilding service(s) [\"web\"] after changes were detected...",
        30,
    );
    watch.wait_line("service(s) [\"web\"] successfully built", 120);
    await_content(&w, &p, "/app.txt", Some("v2\n"));
    drop(watch);
    w.ok(&p, &["down", "-t", "0", "--rmi", "local"]);
    w.assert_clean();
}

#[test]
fn bad_rules_are_refused_naming_service_and_rule() {
    let w = World::new();
    let cases = [
        (
            "    image: IMAGE\n    develop:\n      watch:\n        - path: .\n          action: rebuild\n",
            "can't watch service \"web\" with action rebuild without a build context",
        ),
        (
            "    image: IMAGE\n    develop:\n      watch:\n        - path: ..\n          action: sync\n          target: /app\n",
            "is outside the project directory",
        ),
        (
            "    image: IMAGE\n    develop:\n      watch:\n        - action: sync\n          target: /app\n",
            "services.web.develop.watch[0]: watch rules MUST define a path",
        ),
        (
            "    image: IMAGE\n    develop:\n      watch:\n        - path: .\n          action: teleport\n",
            "services.web.develop.watch[0].action",
        ),
        (
            "    image: IMAGE\n",
            "none of the selected services is configured for watch",
        ),
    ];
    for (i, (svc, msg)) in cases.iter().enumerate() {
        let p = w.project(&format!("wbad{i}"), &format!("services:\n  web:\n{svc}"));
        for args in [&["watch", "--no-up"][..], &["watch", "-d", "--no-up"][..]] {
            let err = fails(&w, &p, args);
            assert!(err.contains(msg), "{args:?} {svc}: {err}");
        }
    }
    w.assert_clean();
}

#[test]
fn a_sync_rule_on_a_bind_mounted_path_is_skipped_with_a_warning() {
    let w = World::new();
    let p = w.project(
        "wbind",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    volumes:
      - ./src:/app
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
        - path: ./other
          action: sync
          target: /other
"#,
    );
    fs::create_dir_all(p.join("src")).unwrap();
    fs::create_dir_all(p.join("other")).unwrap();
    w.ok(&p, &["up", "-d"]);
    let watch = Watching::start(&w, &p, &["--no-up"], &[]);
    assert!(
        watch
            .seen
            .iter()
            .any(|l| l
                .contains("also declared by a bind mount volume, this path won't be monitored!")),
        "{:?}",
        watch.seen
    );
    drop(watch);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
