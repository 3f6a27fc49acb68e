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

use common::scenario::{has_line, wait_states};
use common::World;

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
