//! docker compose's `pkg/e2e/healthcheck_test.go` scenarios, run against berth.
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

use common::{by_name, fails, World};

// SCENARIOS.md § TestStartInterval (healthcheck_test.go): start_interval must
// require start_period, and must accelerate the initial health probes.
#[test]
fn test_start_interval() {
    let w = World::new();
    let p = w.project(
        "startinterval",
        r#"
services:
  test:
    image: IMAGE
    init: true
    command: sleep infinity
    healthcheck:
      interval: 30s
      start_period: 10s
      start_interval: 1s
      test: "/bin/true"

  error:
    image: IMAGE
    init: true
    command: sleep infinity
    healthcheck:
      interval: 30s
      start_interval: 1s
      test: "/bin/true"
"#,
    );
    // up --wait on a start_interval without start_period is rejected
    let text = fails(&w, &p, &["up", "--wait", "-d", "error"]);
    assert!(
        text.contains(
            "services.error.healthcheck.start_interval requires healthcheck.start_period to be set"
        ),
        "{text}"
    );
    assert!(w.ps(&p).is_empty(), "nothing is created");
    // up --wait turns healthy well before the regular 30s interval
    let t0 = std::time::Instant::now();
    let out = w.berth_in(&p, &["up", "--wait", "-d", "test"]);
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(t0.elapsed() < std::time::Duration::from_secs(15), "{text}");
    assert!(
        text.contains("Container startinterval-test-1 Healthy"),
        "{text}"
    );
    assert_eq!(by_name(&w, &p)["startinterval-test-1"]["Health"], "healthy");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
