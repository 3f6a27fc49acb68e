//! docker compose's `pkg/e2e/container_name_test.go` scenarios, run against berth.
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

use common::{by_name, fails, states, World};

// SCENARIOS.md § TestUpContainerNameConflict (container_name_test.go): two
// services claiming the same container_name must be rejected together, but each
// must run alone.
#[test]
fn test_up_container_name_conflict() {
    let w = World::new();
    let p = w.project(
        "nameconflict",
        r#"
services:
  test:
    image: IMAGE
    container_name: ${FIXED_NAME}
    command: sleep infinity
    init: true

  another_test:
    image: IMAGE
    container_name: ${FIXED_NAME}
    command: sleep infinity
    init: true
"#,
    );
    std::fs::write(p.join(".env"), "FIXED_NAME=berth-fixed-name\n").unwrap();
    // up with both services is rejected over the name conflict
    let err = fails(&w, &p, &["up", "-d"]);
    assert!(err.contains("berth-fixed-name"), "{err}");
    // the failed up leaves nothing behind
    assert!(states(&w, &p).is_empty());
    // the first service runs alone under the shared name
    w.ok(&p, &["up", "-d", "test"]);
    let ps = by_name(&w, &p);
    assert_eq!(ps["berth-fixed-name"]["Service"], "test");
    assert_eq!(ps["berth-fixed-name"]["State"], "running");
    // down frees the name
    w.ok(&p, &["down", "-t", "0"]);
    assert!(states(&w, &p).is_empty());
    // the other service runs alone under the shared name
    w.ok(&p, &["up", "-d", "another_test"]);
    let ps = by_name(&w, &p);
    assert_eq!(ps["berth-fixed-name"]["Service"], "another_test");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
