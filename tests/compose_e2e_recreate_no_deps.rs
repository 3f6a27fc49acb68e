//! docker compose's `pkg/e2e/recreate_no_deps_test.go` scenarios, run against berth.
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

use common::scenario::ids;
use common::{by_name, states, World};

// SCENARIOS.md § TestRecreateWithNoDeps (recreate_no_deps_test.go): up
// --force-recreate --no-deps must replace the service without touching its
// healthy dependency.
#[test]
fn test_recreate_with_no_deps() {
    let w = World::new();
    let p = w.project(
        "recreatenodeps",
        r#"
services:
  my-service:
    image: IMAGE
    command: sleep infinity
    init: true
    depends_on:
      dep: {condition: service_healthy}

  dep:
    image: IMAGE
    command: sleep infinity
    init: true
    healthcheck:
      test:     "/bin/true"
      interval: 1s
      timeout:  1s
      retries:  10
"#,
    );
    // up starts the service once its dependency is healthy
    w.ok(&p, &["up", "-d", "--wait"]);
    assert_eq!(states(&w, &p)["recreatenodeps-my-service-1"], "running");
    assert_eq!(by_name(&w, &p)["recreatenodeps-dep-1"]["Health"], "healthy");
    let before = ids(&w, &p);
    // force-recreate with --no-deps replaces only the service
    w.ok(
        &p,
        &["up", "-d", "--force-recreate", "--no-deps", "my-service"],
    );
    let after = ids(&w, &p);
    assert_eq!(states(&w, &p)["recreatenodeps-my-service-1"], "running");
    assert_ne!(
        after["recreatenodeps-my-service-1"],
        before["recreatenodeps-my-service-1"]
    );
    assert_eq!(
        after["recreatenodeps-dep-1"],
        before["recreatenodeps-dep-1"]
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
