//! docker compose's `pkg/e2e/wait_test.go` scenarios, run against berth.
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

use common::{states, World};

/// The `wait` fixture (`fixtures/wait/compose.yaml`), with shorter sleeps.
const WAIT: &str = r#"
services:
  faster:
    image: IMAGE
    command: sleep 1
  slower:
    image: IMAGE
    command: sleep 3
  infinity:
    image: IMAGE
    init: true
    command: sleep infinity
"#;

// SCENARIOS.md § TestWaitOnFaster (wait_test.go): wait must return once the
// selected service exits, whatever the others do.
#[test]
fn test_wait_on_faster() {
    let w = World::new();
    let p = w.project("waitfaster", WAIT);
    // up starts all services
    w.ok(&p, &["up", "-d"]);
    // wait returns when the fastest service exits
    let out = w.ok(&p, &["wait", "faster"]);
    assert_eq!(out.trim(), "0");
    let st = states(&w, &p);
    assert_eq!(st["waitfaster-faster-1"], "exited");
    assert_eq!(st["waitfaster-infinity-1"], "running");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestWaitOnSlower (wait_test.go): wait must block until the
// selected service exits, even if others exited first.
#[test]
fn test_wait_on_slower() {
    let w = World::new();
    let p = w.project("waitslower", WAIT);
    // up starts all services
    w.ok(&p, &["up", "-d"]);
    // wait returns when the slower service exits
    w.ok(&p, &["wait", "slower"]);
    let st = states(&w, &p);
    assert_eq!(st["waitslower-slower-1"], "exited");
    assert_eq!(st["waitslower-faster-1"], "exited");
    assert_eq!(st["waitslower-infinity-1"], "running");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestWaitAndDrop (wait_test.go): wait --down-project must take
// the whole project down once the selected service exits.
#[test]
fn test_wait_and_drop() {
    let w = World::new();
    let p = w.project("waitdrop", WAIT);
    // up starts all services
    w.ok(&p, &["up", "-d"]);
    // wait --down-project removes every container when the service exits
    w.ok(&p, &["wait", "--down-project", "faster"]);
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}

// SCENARIOS.md § TestWaitOnInfinity (wait_test.go): wait on a service that never
// exits must keep blocking. The Go test gives it 7 seconds; here it must still
// block once every other service has exited, and return as soon as the
// service is stopped.
#[test]
fn test_wait_on_infinity() {
    let w = World::new();
    let p = w.project("waitinfinity", WAIT);
    w.ok(&p, &["up", "-d"]);
    let mut waiter = w
        .berth_command(&p, &["wait", "infinity"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    w.wait_until(30, "faster and slower to exit", || {
        let st = states(&w, &p);
        st["waitinfinity-faster-1"] == "exited" && st["waitinfinity-slower-1"] == "exited"
    });
    // wait infinity should not finish
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "wait returned while the service runs"
    );
    assert_eq!(states(&w, &p)["waitinfinity-infinity-1"], "running");
    w.ok(&p, &["stop", "-t", "0", "infinity"]);
    w.wait_until(20, "wait to return once the service stopped", || {
        waiter.try_wait().unwrap().is_some()
    });
    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    w.assert_clean();
}
