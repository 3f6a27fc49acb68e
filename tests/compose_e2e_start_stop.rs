//! docker compose's `pkg/e2e/start_stop_test.go` scenarios, run against berth.
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

use common::scenario::{ids, ls, map};
use common::{by_name, states, World};

// SCENARIOS.md § TestStartStop (start_stop_test.go): stop must halt the project's
// containers in place, start must bring the same ones back.
#[test]
fn test_start_stop() {
    let w = World::new();
    let p = w.project(
        "startstop",
        r#"
services:
  simple:
    image: IMAGE
    init: true
    command: sleep infinity
  another:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // up starts every service
    w.ok(&p, &["up", "-d"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("startstop-another-1", "running"),
            ("startstop-simple-1", "running")
        ])
    );
    let before = ids(&w, &p);
    // ls reports the project as running
    assert_eq!(
        ls(&w, &p, false).get("startstop").map(String::as_str),
        Some("running(2)")
    );
    // stop halts the containers without removing them
    w.ok(&p, &["stop"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("startstop-another-1", "exited"),
            ("startstop-simple-1", "exited")
        ])
    );
    assert_eq!(ids(&w, &p), before);
    // a stopped project is hidden from ls
    assert!(!ls(&w, &p, false).contains_key("startstop"));
    // ls --all still lists the stopped project
    assert_eq!(
        ls(&w, &p, true).get("startstop").map(String::as_str),
        Some("exited(2)")
    );
    // start brings the same containers back
    w.ok(&p, &["start"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("startstop-another-1", "running"),
            ("startstop-simple-1", "running")
        ])
    );
    assert_eq!(ids(&w, &p), before);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpNoDeps (start_stop_test.go): up --no-deps must not create
// the service's dependencies.
#[test]
fn test_up_no_deps() {
    let w = World::new();
    let p = w.project(
        "nodeps",
        r#"
services:
  foo:
    image: IMAGE
    init: true
    command: sleep infinity
    links:
      - bar
  bar:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // up --no-deps starts only the requested service
    w.ok(&p, &["up", "-d", "--no-deps", "foo"]);
    assert_eq!(states(&w, &p), map(&[("nodeps-foo-1", "running")]));
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestStartStopWithOneOffs (start_stop_test.go): stop, start and
// restart must act on services and leave one-off containers untouched.
#[test]
fn test_start_stop_with_oneoffs() {
    let w = World::new();
    let p = w.project(
        "ssoneoff",
        r#"
services:
  foo:
    image: IMAGE
    init: true
    command: sleep infinity
  bar:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // up starts the services
    w.ok(&p, &["up", "-d"]);
    // run adds a one-off container alongside the service
    let oneoff = w.ok(&p, &["run", "-d", "foo"]).trim().to_string();
    let started = |w: &World| by_name(w, &p)[&oneoff]["Status"].clone();
    assert_eq!(by_name(&w, &p)[&oneoff]["State"], "running");
    // stop halts the services but not the one-off
    w.ok(&p, &["stop"]);
    let st = states(&w, &p);
    assert_eq!(st["ssoneoff-foo-1"], "exited");
    assert_eq!(st["ssoneoff-bar-1"], "exited");
    assert_eq!(st[&oneoff], "running");
    // start resumes the services without touching the one-off
    w.ok(&p, &["start"]);
    let st = states(&w, &p);
    assert_eq!(st["ssoneoff-foo-1"], "running");
    assert_eq!(st["ssoneoff-bar-1"], "running");
    assert_eq!(st[&oneoff], "running");
    // restart restarts the services but not the one-off: it stays up since
    // before (its status says how long, and a restarted one would read "Less
    // than a second"; comparing the strings themselves races the clock)
    w.wait_until(10, "the one-off up for a second", || {
        started(&w) != "Up Less than a second"
    });
    w.ok(&p, &["restart"]);
    let st = states(&w, &p);
    assert_eq!(st["ssoneoff-foo-1"], "running");
    assert_eq!(st[&oneoff], "running");
    assert_ne!(started(&w), "Up Less than a second");
    // down --remove-orphans removes the one-off as well
    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}

// SCENARIOS.md § TestStartSingleServiceAndDependency (start_stop_test.go): start
// of a created service must start its dependency chain and nothing else.
#[test]
fn test_start_single_service_and_dependency() {
    let w = World::new();
    let p = w.project(
        "startdeps",
        r#"
services:
  desired:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      - dep_1
  dep_1:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      - dep_2
  dep_2:
    image: IMAGE
    init: true
    command: sleep infinity
  another:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      - another_2
  another_2:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // create prepares the desired service and its dependencies only
    w.ok(&p, &["create", "desired"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("startdeps-dep_1-1", "created"),
            ("startdeps-dep_2-1", "created"),
            ("startdeps-desired-1", "created"),
        ])
    );
    // start brings up the desired service with its dependencies, nothing else
    w.ok(&p, &["start", "desired"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("startdeps-dep_1-1", "running"),
            ("startdeps-dep_2-1", "running"),
            ("startdeps-desired-1", "running"),
        ])
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
