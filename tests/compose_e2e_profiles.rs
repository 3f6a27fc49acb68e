//! docker compose's `pkg/e2e/profiles_test.go` scenarios, run against berth.
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

const PROFILE_FIXTURE: &str = r#"
services:
  regular-service:
    image: IMAGE
    init: true
    command: sleep infinity

  profiled-service:
    image: IMAGE
    init: true
    command: sleep infinity
    profiles:
      - test-profile
"#;

// SCENARIOS.md § TestExplicitProfileUsage (profiles_test.go): with --profile,
// lifecycle commands must act on profiled and regular services alike.
#[test]
fn test_explicit_profile_usage() {
    let w = World::new();
    let p = w.project("explicit", PROFILE_FIXTURE);
    let prof = |args: &[&str]| {
        let mut v = vec!["--profile", "test-profile"];
        v.extend_from_slice(args);
        w.ok(&p, &v);
    };
    let all = |s| {
        map(&[
            ("explicit-profiled-service-1", s),
            ("explicit-regular-service-1", s),
        ])
    };
    // up with the profile starts both services
    prof(&["up", "-d"]);
    assert_eq!(states(&w, &p), all("running"));
    let before = ids(&w, &p);
    // stop with the profile halts both services
    prof(&["stop", "-t", "0"]);
    assert_eq!(states(&w, &p), all("exited"));
    // start with the profile resumes both services
    prof(&["start"]);
    assert_eq!(states(&w, &p), all("running"));
    // restart with the profile restarts both services in place
    prof(&["restart", "-t", "0"]);
    assert_eq!(states(&w, &p), all("running"));
    assert_eq!(ids(&w, &p), before);
    // down removes every container
    prof(&["down", "-t", "0"]);
    assert!(states(&w, &p).is_empty());
    w.assert_clean();
}

// SCENARIOS.md § TestActiveProfileViaTargetedService (profiles_test.go):
// targeting a profiled service must activate its profile implicitly, and only
// for it.
#[test]
fn test_active_profile_via_targeted_service() {
    let w = World::new();
    let p = w.project("targeted", PROFILE_FIXTURE);
    // up on the profiled service starts it without the regular one
    w.ok(&p, &["up", "-d", "profiled-service"]);
    assert_eq!(
        states(&w, &p),
        map(&[("targeted-profiled-service-1", "running")])
    );
    let before = ids(&w, &p);
    // stop on the profiled service halts it
    w.ok(&p, &["stop", "-t", "0", "profiled-service"]);
    assert_eq!(
        states(&w, &p),
        map(&[("targeted-profiled-service-1", "exited")])
    );
    // start on the profiled service resumes it
    w.ok(&p, &["start", "profiled-service"]);
    assert_eq!(
        states(&w, &p),
        map(&[("targeted-profiled-service-1", "running")])
    );
    // restart keeps acting on the existing containers only
    w.ok(&p, &["restart", "-t", "0"]);
    assert_eq!(
        states(&w, &p),
        map(&[("targeted-profiled-service-1", "running")])
    );
    assert_eq!(ids(&w, &p), before);
    w.ok(&p, &["--profile", "test-profile", "down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestNoProfileUsage (profiles_test.go): without a profile,
// lifecycle commands must never materialize the profiled service.
#[test]
fn test_no_profile_usage() {
    let w = World::new();
    let p = w.project("noprofile", PROFILE_FIXTURE);
    let only = |s| map(&[("noprofile-regular-service-1", s)]);
    // up starts only the regular service
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p), only("running"));
    let before = ids(&w, &p);
    // stop halts the regular service
    w.ok(&p, &["stop", "-t", "0"]);
    assert_eq!(states(&w, &p), only("exited"));
    // start resumes the regular service only
    w.ok(&p, &["start"]);
    assert_eq!(states(&w, &p), only("running"));
    assert_eq!(ids(&w, &p), before);
    // restart touches the regular service only
    w.ok(&p, &["restart", "-t", "0"]);
    assert_eq!(states(&w, &p), only("running"));
    assert_eq!(ids(&w, &p), before);
    // down removes every container
    w.ok(&p, &["down", "-t", "0"]);
    assert!(states(&w, &p).is_empty());
    w.assert_clean();
}

// SCENARIOS.md § TestDotEnvProfileUsage (profiles_test.go): COMPOSE_PROFILES from
// the project's .env must activate the profile.
#[test]
fn test_dot_env_profile_usage() {
    let w = World::new();
    let p = w.project("dotenvprofile", PROFILE_FIXTURE);
    std::fs::write(p.join(".env"), "COMPOSE_PROFILES=test-profile\n").unwrap();
    // up starts both services, the profile coming from .env
    w.ok(&p, &["up", "-d"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("dotenvprofile-profiled-service-1", "running"),
            ("dotenvprofile-regular-service-1", "running"),
        ])
    );
    w.ok(&p, &["down", "-t", "0"]);
    assert!(states(&w, &p).is_empty());
    w.assert_clean();
}
