//! docker compose's `pkg/e2e/expose_test.go` scenarios, run against berth.
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

use common::scenario::map;
use common::{states, World};

// SCENARIOS.md § TestExposeRange (expose_test.go): a port range in expose must be
// accepted.
#[test]
fn test_expose_range() {
    let w = World::new();
    let p = w.project(
        "expose",
        r#"
services:
  test:
    image: IMAGE
    init: true
    command: sleep infinity
    expose:
      - "9091-9092"
"#,
    );
    // up creates and runs the service
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p), map(&[("expose-test-1", "running")]));
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
