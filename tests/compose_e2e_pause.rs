//! docker compose's `pkg/e2e/pause_test.go` scenarios, run against berth.
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
use common::{fails, states, World};

const PAUSE: &str = r#"
services:
  a:
    image: IMAGE
    init: true
    command: sleep infinity
  b:
    image: IMAGE
    init: true
    command: sleep infinity
"#;

// SCENARIOS.md § TestPause (pause_test.go): pause must freeze only the targeted
// service, unpause must resume it in place.
#[test]
fn test_pause() {
    let w = World::new();
    let p = w.project("pause", PAUSE);
    w.ok(&p, &["up", "-d"]);
    let before = ids(&w, &p);
    w.ok(&p, &["pause", "a"]);
    let st = states(&w, &p);
    assert_eq!(st["pause-a-1"], "paused", "{st:?}");
    assert_eq!(st["pause-b-1"], "running", "{st:?}");
    // A frozen container runs nothing: exec into it is refused.
    let out = w.berth_in(&p, &["exec", "-T", "a", "true"]);
    assert_ne!(out.status.code(), Some(0));
    w.ok(&p, &["unpause", "a"]);
    assert_eq!(states(&w, &p)["pause-a-1"], "running");
    assert_eq!(ids(&w, &p), before, "unpause resumes in place");
    w.ok(&p, &["exec", "-T", "a", "true"]);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestPauseServiceAlreadyPaused, TestPauseServiceDoesNotExist,
// TestPauseServiceNotRunning (pause_test.go): a second pause is rejected, an
// unknown service is rejected, a service without containers is a no-op.
#[test]
fn test_pause_errors() {
    let w = World::new();
    let p = w.project("pauseerr", PAUSE);
    // pause without any container is accepted
    w.ok(&p, &["pause", "a"]);
    w.ok(&p, &["up", "-d", "a"]);
    w.ok(&p, &["pause", "a"]);
    fails(&w, &p, &["pause", "a"]);
    fails(&w, &p, &["pause", "nosuch"]);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
