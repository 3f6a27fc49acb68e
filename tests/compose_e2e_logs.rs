//! docker compose's `pkg/e2e/logs_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image: `alpine`/`nginx` become
//! `IMAGE`, and what the Go test checked with `docker exec`/`inspect` a container
//! checks from the inside and prints to its log. Tests not named `test_*` are
//! berth's own, on the same commands.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use common::scenario::{has_line, run, wait_states, Background};
use common::World;
use std::fmt::Write as _;

// SCENARIOS.md § TestLocalComposeLogs (logs_test.go): logs must aggregate the
// requested services' output. (`logs --index` is not in berth yet.)
#[test]
fn test_local_compose_logs() {
    let w = World::new();
    let p = w.project(
        "logs",
        r#"
services:
  ping:
    image: IMAGE
    init: true
    command: ping localhost -c 1
  hello:
    image: IMAGE
    command: echo hello
    deploy:
      replicas: 2
"#,
    );
    // up starts the services
    w.ok(&p, &["up", "-d"]);
    wait_states(
        &w,
        &p,
        10,
        &[
            ("logs-hello-1", "exited"),
            ("logs-hello-2", "exited"),
            ("logs-ping-1", "exited"),
        ],
    );
    // logs aggregates every service's output
    let all = w.ok(&p, &["logs"]);
    assert!(has_line(&all, "ping-1", "PING localhost"), "{all}");
    assert!(has_line(&all, "hello-1", "hello"), "{all}");
    assert!(has_line(&all, "hello-2", "hello"), "{all}");
    // logs on one service filters the others out
    let ping = w.ok(&p, &["logs", "ping"]);
    assert!(has_line(&ping, "ping-1", "PING localhost"), "{ping}");
    assert!(!ping.contains("hello"), "{ping}");
    // logs accepts several services
    let both = w.ok(&p, &["logs", "ping", "hello"]);
    assert!(has_line(&both, "ping-1", "PING localhost"), "{both}");
    assert!(has_line(&both, "hello-1", "hello"), "{both}");
    assert!(has_line(&both, "hello-2", "hello"), "{both}");
    w.ok(&p, &["down"]);
    w.assert_clean();
}

/// docker compose's `fixtures/logs-test/compose.yaml`.
const LOGS_TEST: &str = r#"
services:
  ping:
    image: IMAGE
    init: true
    command: ping localhost -c ${REPEAT:-1}
  hello:
    image: IMAGE
    command: echo hello
    deploy:
      replicas: 2
"#;

// logs_test.go § TestLocalComposeLogsFollow: `logs -f` follows the containers
// there are and those that `up` adds later, replicas included.
#[test]
fn test_local_compose_logs_follow() {
    let w = World::new();
    let p = w.project("compose-e2e-logs", LOGS_TEST);
    let env = [("REPEAT", "20")];
    let out = w.berth_env(&p, &["up", "-d", "ping"], &env);
    assert!(out.status.success(), "{out:?}");
    let logs = Background::start(&w, &p, &["logs", "-f"], &env);
    logs.wait_for(&w, 20, "ping-1 ");
    let out = w.berth_env(&p, &["up", "-d"], &env);
    assert!(out.status.success(), "{out:?}");
    logs.wait_for(&w, 20, "hello-1 ");
    let out = w.berth_env(&p, &["up", "-d", "--scale", "ping=2", "ping"], &env);
    assert!(out.status.success(), "{out:?}");
    logs.wait_for(&w, 20, "ping-2 ");
    drop(logs);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// logs_test.go § TestLocalComposeLargeLogs: an attached `up` relays a large
// output (300,000 lines) whole and reports the exit.
#[test]
fn test_local_compose_large_logs() {
    let w = World::new();
    let p = w.project(
        "compose-e2e-large_logs",
        r#"
services:
  test:
    image: IMAGE
    command: cat /text_file.txt
    volumes:
      - ./large.txt:/text_file.txt
"#,
    );
    let mut text = String::new();
    for i in 0..300_000 {
        writeln!(text, "This is line {i} in a laaaarge text file").unwrap();
    }
    std::fs::write(p.join("large.txt"), text).unwrap();
    let (code, out, err) = run(&w, &p, &["up", "--abort-on-container-exit"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("test-1 exited with code 0"), "{err}");
    let relayed = out
        .lines()
        .filter(|l| l.contains("| This is line "))
        .count();
    assert_eq!(relayed, 300_000);
    assert!(has_line(
        &out,
        "test-1",
        "This is line 299999 in a laaaarge text file"
    ));
    w.ok(&p, &["down"]);
    w.assert_clean();
}
