//! docker compose's `pkg/e2e/exec_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use common::scenario::oneoffs;
use common::{fails, states, World};

// exec_test.go § TestExec: exec must prefer the service container over a one-off,
// falling back to the one-off when alone.
#[test]
fn test_exec() {
    let w = World::new();
    let p = w.project(
        "exectest",
        r#"
services:
  test:
    image: IMAGE
    command: tail -f /dev/null
"#,
    );
    // run starts a detached one-off with its own command
    w.ok(&p, &["run", "-d", "test", "cat"]);
    let runs = oneoffs(&w, &p, "exectest", "test");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["State"], "running");
    // exec --index=1 finds no numbered replica
    let err = fails(&w, &p, &["exec", "--index=1", "test", "ps"]);
    assert!(
        err.contains(r#"service "test" is not running container #1"#),
        "{err}"
    );
    // with only a one-off around, exec lands in it
    let out = w.ok(&p, &["exec", "test", "ps"]);
    assert!(out.contains("cat"), "{out}");
    assert!(!out.contains("tail"), "{out}");
    // up starts the service container
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p)["exectest-test-1"], "running");
    // exec now selects the service container
    let out = w.ok(&p, &["exec", "test", "ps"]);
    assert!(out.contains("tail"), "{out}");
    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    w.assert_clean();
}
