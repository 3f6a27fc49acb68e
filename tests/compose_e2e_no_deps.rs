//! docker compose's `pkg/e2e/noDeps_test.go` scenarios, run against berth.
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

use common::scenario::{ids, map};
use common::{states, World};

// SCENARIOS.md § TestNoDepsVolumeFrom (noDeps_test.go): up --no-deps must fail
// when the container providing volumes_from is gone.
#[test]
fn test_no_deps_volume_from() {
    let w = World::new();
    let p = w.project(
        "nodepsvolfrom",
        r#"
services:
  app:
    image: IMAGE
    init: true
    command: sleep infinity
    volumes_from:
      - db
  db:
    image: IMAGE
    init: true
    command: sleep infinity
    volumes:
      - /var/data
"#,
    );
    // up starts the service and the volume donor
    w.ok(&p, &["up", "-d"]);
    let before = ids(&w, &p);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("nodepsvolfrom-app-1", "running"),
            ("nodepsvolfrom-db-1", "running")
        ])
    );
    // up --no-deps reuses the donor container while it exists
    w.ok(&p, &["up", "--no-deps", "-d", "app"]);
    assert_eq!(ids(&w, &p), before);
    // the donor container is removed behind compose's back
    w.ok(&p, &["rm", "-s", "-f", "db"]);
    assert!(!states(&w, &p).contains_key("nodepsvolfrom-db-1"));
    // up --no-deps without the donor container is rejected
    let out = w.berth_in(&p, &["up", "--no-deps", "-d", "app"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("cannot share volume with service db: container missing"),
        "{text}"
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestNoDepsNetworkMode (noDeps_test.go): up --no-deps must fail
// when the container providing the network namespace is gone.
#[test]
fn test_no_deps_network_mode() {
    let w = World::new();
    let p = w.project(
        "nodepsnetmode",
        r#"
services:
  app:
    image: IMAGE
    init: true
    command: sleep infinity
    network_mode: service:db
  db:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // up starts the service and the namespace donor
    w.ok(&p, &["up", "-d"]);
    let before = ids(&w, &p);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("nodepsnetmode-app-1", "running"),
            ("nodepsnetmode-db-1", "running")
        ])
    );
    // up --no-deps reuses the donor container while it exists
    w.ok(&p, &["up", "--no-deps", "-d", "app"]);
    assert_eq!(ids(&w, &p), before);
    // the donor container is removed behind compose's back
    w.ok(&p, &["rm", "-s", "-f", "db"]);
    assert!(!states(&w, &p).contains_key("nodepsnetmode-db-1"));
    // up --no-deps without the donor container is rejected
    let out = w.berth_in(&p, &["up", "--no-deps", "-d", "app"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("cannot share network namespace with service db: container missing"),
        "{text}"
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
