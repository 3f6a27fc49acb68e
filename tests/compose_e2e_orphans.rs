//! docker compose's `pkg/e2e/orphans_test.go` scenarios, run against berth.
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

use common::scenario::{map, wait_states};
use common::{states, World};

// SCENARIOS.md § TestRemoveOrphans (orphans_test.go): up must honor
// COMPOSE_REMOVE_ORPHANS declared in the project's .env.
// berth has no `run` yet: the leftover container comes from a second compose
// file of the same project instead of a one-off.
#[test]
fn test_remove_orphans() {
    let w = World::new();
    let p = w.project(
        "orphans",
        r#"
services:
  test:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    std::fs::write(p.join(".env"), "COMPOSE_REMOVE_ORPHANS=true\n").unwrap();
    std::fs::write(
        p.join("orphan.yaml"),
        format!(
            "services:\n  orphan:\n    image: {}\n    command: echo hello\n",
            common::IMAGE
        ),
    )
    .unwrap();
    // a leftover container: exited, its service unknown to compose.yaml
    w.ok(&p, &["-f", "orphan.yaml", "up", "-d"]);
    wait_states(&w, &p, 10, &[("orphans-orphan-1", "exited")]);
    // up removes the leftover one-off
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p), map(&[("orphans-test-1", "running")]));
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
