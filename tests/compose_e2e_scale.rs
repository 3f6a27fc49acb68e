//! docker compose's `pkg/e2e/scale_test.go` scenarios, run against berth.
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

use common::scenario::{ids, map, reimport_variant};
use common::{fails, states, World};

const SCALE_FIXTURE: &str = r#"
services:
  back:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      - db
  db:
    image: IMAGE
    init: true
    command: sleep infinity
    environment:
      - MAYBE
  front:
    image: IMAGE
    init: true
    command: sleep infinity
    deploy:
      replicas: 2
  dbadmin:
    image: IMAGE
    init: true
    command: sleep infinity
    deploy:
      replicas: 0
"#;

// SCENARIOS.md § TestScaleBasicCases (scale_test.go): scale must add and remove
// replicas to match the requested count, per service.
// berth has no `scale` command yet: `scale S=N…` is `up -d --no-deps --scale
// S=N… S…`, which is what compose's `scale` does.
#[test]
fn test_scale_basic_cases() {
    let w = World::new();
    let p = w.project("scale", SCALE_FIXTURE);
    let names = |w: &World| states(w, &p).into_keys().collect::<Vec<_>>();
    // up honors deploy.replicas, including zero
    w.ok(&p, &["up", "-d"]);
    assert_eq!(
        names(&w),
        [
            "scale-back-1",
            "scale-db-1",
            "scale-front-1",
            "scale-front-2"
        ]
    );
    // scale up a zero-replica service
    w.ok(
        &p,
        &["up", "-d", "--no-deps", "--scale", "dbadmin=1", "dbadmin"],
    );
    assert_eq!(
        names(&w),
        [
            "scale-back-1",
            "scale-db-1",
            "scale-dbadmin-1",
            "scale-front-1",
            "scale-front-2"
        ]
    );
    // scale two services at once
    w.ok(
        &p,
        &[
            "up",
            "-d",
            "--no-deps",
            "--scale",
            "back=2",
            "--scale",
            "db=2",
            "back",
            "db",
        ],
    );
    assert_eq!(
        names(&w),
        [
            "scale-back-1",
            "scale-back-2",
            "scale-db-1",
            "scale-db-2",
            "scale-dbadmin-1",
            "scale-front-1",
            "scale-front-2"
        ]
    );
    // scale down keeps the surviving replica untouched
    let before = ids(&w, &p);
    w.ok(
        &p,
        &["up", "-d", "--no-deps", "--scale", "front=1", "front"],
    );
    let after = ids(&w, &p);
    assert!(!after.contains_key("scale-front-2"), "{after:?}");
    assert_eq!(after["scale-front-1"], before["scale-front-1"]);
    // scale to zero removes every replica
    w.ok(&p, &["up", "-d", "--no-deps", "--scale", "back=0", "back"]);
    assert_eq!(
        names(&w),
        [
            "scale-db-1",
            "scale-db-2",
            "scale-dbadmin-1",
            "scale-front-1"
        ]
    );
    // scale down two services at once
    w.ok(
        &p,
        &[
            "up",
            "-d",
            "--no-deps",
            "--scale",
            "db=1",
            "--scale",
            "dbadmin=0",
            "db",
            "dbadmin",
        ],
    );
    assert_eq!(names(&w), ["scale-db-1", "scale-front-1"]);
    assert!(states(&w, &p).values().all(|s| s == "running"));
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestScaleUpAndDownPreserveContainerNumber (scale_test.go):
// scaling down then up must reuse replica numbers instead of drifting.
#[test]
fn test_scale_up_and_down_preserve_container_number() {
    let w = World::new();
    let p = w.project("scalenum", SCALE_FIXTURE);
    let front = |w: &World| {
        states(w, &p)
            .into_keys()
            .filter(|n| n.starts_with("scalenum-front-"))
            .collect::<Vec<_>>()
    };
    // up creates replicas #1 and #2
    w.ok(&p, &["up", "-d"]);
    assert_eq!(front(&w), ["scalenum-front-1", "scalenum-front-2"]);
    // scale down removes replica #2
    w.ok(
        &p,
        &["up", "-d", "--no-deps", "--scale", "front=1", "front"],
    );
    assert_eq!(front(&w), ["scalenum-front-1"]);
    // scale up restores replica #2
    w.ok(
        &p,
        &["up", "-d", "--no-deps", "--scale", "front=2", "front"],
    );
    assert_eq!(front(&w), ["scalenum-front-1", "scalenum-front-2"]);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestScaleDownNoRecreate (scale_test.go): up --no-recreate must
// scale up with fresh replicas and scale down by dropping the stale ones. The
// fixture's `build: .` becomes the test image, "rebuilt" by importing a variant
// of it under the same tag.
#[test]
fn test_scale_down_no_recreate() {
    let w = World::new();
    let p = w.project(
        "scalenorec",
        r#"
services:
  test:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // build and start two replicas of the first image; up starts replicas #1 and #2
    w.ok(&p, &["up", "-d", "--scale", "test=2"]);
    let first = ids(&w, &p);
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        ["scalenorec-test-1", "scalenorec-test-2"]
    );
    // rebuild changes the image the service should run
    reimport_variant(&w, "rebuilt");
    // up --no-recreate adds fresh replicas without touching stale ones
    w.ok(&p, &["up", "-d", "--no-recreate", "--scale", "test=4"]);
    let grown = ids(&w, &p);
    assert_eq!(
        grown.keys().collect::<Vec<_>>(),
        [
            "scalenorec-test-1",
            "scalenorec-test-2",
            "scalenorec-test-3",
            "scalenorec-test-4"
        ]
    );
    assert_eq!(grown["scalenorec-test-1"], first["scalenorec-test-1"]);
    assert_eq!(grown["scalenorec-test-2"], first["scalenorec-test-2"]);
    // scale down drops the stale replicas and keeps the up-to-date ones
    w.ok(&p, &["up", "-d", "--no-recreate", "--scale", "test=2"]);
    let kept = ids(&w, &p);
    assert_eq!(
        kept.keys().collect::<Vec<_>>(),
        ["scalenorec-test-3", "scalenorec-test-4"]
    );
    assert_eq!(kept["scalenorec-test-3"], grown["scalenorec-test-3"]);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// berth's own: `scale SERVICE=NUM` (docker compose scale) adds and removes
// replicas of a running project, keeping the others, and `--no-deps` leaves the
// dependencies alone.
#[test]
fn scale_command() {
    let w = World::new();
    let p = w.project(
        "scalecmd",
        r#"
services:
  db:
    image: IMAGE
    init: true
    command: sleep infinity
  web:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on: [db]
"#,
    );
    w.ok(&p, &["up", "-d"]);
    let first = ids(&w, &p)["scalecmd-web-1"].clone();
    w.ok(&p, &["scale", "web=3"]);
    let st = states(&w, &p);
    for n in 1..=3 {
        assert_eq!(st[&format!("scalecmd-web-{n}")], "running", "{st:?}");
    }
    assert_eq!(ids(&w, &p)["scalecmd-web-1"], first, "web-1 is kept");
    w.ok(&p, &["scale", "web=1"]);
    assert_eq!(
        states(&w, &p),
        map(&[("scalecmd-db-1", "running"), ("scalecmd-web-1", "running")])
    );
    // --no-deps: the stopped dependency stays stopped.
    w.ok(&p, &["stop", "db"]);
    w.ok(&p, &["scale", "--no-deps", "web=2"]);
    let st = states(&w, &p);
    assert_eq!(st["scalecmd-db-1"], "exited");
    assert_eq!(st["scalecmd-web-2"], "running");
    // Without it, scale starts what the service depends on.
    w.ok(&p, &["scale", "web=2"]);
    assert_eq!(states(&w, &p)["scalecmd-db-1"], "running");
    let text = fails(&w, &p, &["scale", "web"]);
    assert!(text.contains("invalid scale specifier: web"), "{text}");
    let text = fails(&w, &p, &["scale", "nope=2"]);
    assert!(text.contains("no such service: nope"), "{text}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestScaleWithDepsCases (scale_test.go): scale --no-deps must
// leave dependencies alone, while a plain scale reconciles them to the model.
#[test]
fn test_scale_with_deps_cases() {
    let w = World::new();
    let p = w.project("scaledeps", SCALE_FIXTURE);
    let count = |w: &World, svc: &str| {
        let prefix = format!("scaledeps-{svc}-");
        states(w, &p)
            .into_iter()
            .filter(|(n, s)| n.starts_with(&prefix) && s == "running")
            .count()
    };
    // up with an explicit dependency scale
    w.ok(&p, &["up", "-d", "--scale", "db=2"]);
    assert_eq!(count(&w, "db"), 2);
    // scale --no-deps does not touch the dependency's replicas
    w.ok(&p, &["scale", "--no-deps", "back=2"]);
    assert_eq!(count(&w, "back"), 2);
    assert_eq!(count(&w, "db"), 2);
    // scale without --no-deps resets the dependency to the model's count
    w.ok(&p, &["scale", "back=2"]);
    assert_eq!(count(&w, "back"), 2);
    assert_eq!(count(&w, "db"), 1);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestScaleDownRemovesObsolete (scale_test.go): scale down must
// keep the up-to-date replicas, not the lowest numbers.
#[test]
fn test_scale_down_removes_obsolete() {
    let w = World::new();
    let p = w.project("scaleobsolete", SCALE_FIXTURE);
    let db = |w: &World| {
        ids(w, &p)
            .into_iter()
            .filter(|(n, _)| n.starts_with("scaleobsolete-db-"))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let maybe = [("MAYBE", "value")];
    // up creates replica #1
    w.ok(&p, &["up", "-d", "db"]);
    assert_eq!(
        db(&w).into_keys().collect::<Vec<_>>(),
        ["scaleobsolete-db-1"]
    );
    // scale up with a changed config adds replica #2
    let out = w.berth_env(&p, &["up", "-d", "--scale", "db=2", "db"], &maybe);
    assert!(out.status.success(), "{}", common::scenario::combined(&out));
    let two = db(&w);
    assert_eq!(
        two.keys().collect::<Vec<_>>(),
        ["scaleobsolete-db-1", "scaleobsolete-db-2"]
    );
    // scale down under the same config keeps replica #1
    let out = w.berth_env(&p, &["up", "-d", "--scale", "db=1", "db"], &maybe);
    assert!(out.status.success(), "{}", common::scenario::combined(&out));
    let one = db(&w);
    assert_eq!(one.keys().collect::<Vec<_>>(), ["scaleobsolete-db-1"]);
    assert_eq!(one["scaleobsolete-db-1"], two["scaleobsolete-db-1"]);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
