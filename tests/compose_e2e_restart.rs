//! docker compose's `pkg/e2e/restart_test.go` scenarios, run against berth.
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

use common::scenario::{ids, run, wait_states};
use common::{states, World};

// SCENARIOS.md § TestRestart (restart_test.go): restart must bring an exited
// service back up, restarting the same container.
#[test]
fn test_restart() {
    let w = World::new();
    let p = w.project(
        "restart",
        r#"
services:
  app:
    image: IMAGE
    init: true
    command: sh -c "if [ -f /tmp/restart.lock ] ; then sleep infinity; else touch /tmp/restart.lock; fi"
"#,
    );
    // up starts the service, whose first run exits at once
    w.ok(&p, &["up", "-d"]);
    wait_states(&w, &p, 10, &[("restart-app-1", "exited")]);
    let before = ids(&w, &p);
    // restart brings the service back up, reusing the container
    w.ok(&p, &["restart"]);
    wait_states(&w, &p, 10, &[("restart-app-1", "running")]);
    assert_eq!(ids(&w, &p), before, "restart recreated the container");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// `restart SVC` also restarts the services that depend on it with `restart: true`
// (docker compose's depends_on.restart), unless `--no-deps`.
#[test]
fn restart_takes_restart_true_dependents_along() {
    let w = World::new();
    let p = w.project(
        "restartdeps",
        r#"
x-svc: &svc
  image: IMAGE
  command: ["sh", "-c", "echo started; trap 'exit 0' TERM; sleep 3600 & wait"]
services:
  db: *svc
  app:
    <<: *svc
    depends_on:
      db: {condition: service_started, restart: true}
  other:
    <<: *svc
    depends_on: [db]
"#,
    );
    w.ok(&p, &["up", "-d"]);
    let starts = |svc: &str| {
        w.ok(&p, &["logs", "--no-log-prefix", svc])
            .lines()
            .filter(|l| *l == "started")
            .count()
    };
    w.wait_until(20, "every service to start", || {
        ["db", "app", "other"].iter().all(|s| starts(s) == 1)
    });
    w.ok(&p, &["restart", "db"]);
    w.wait_until(20, "db and app to start again", || {
        starts("db") == 2 && starts("app") == 2
    });
    assert_eq!(starts("other"), 1, "a plain dependant is left alone");
    w.ok(&p, &["restart", "--no-deps", "db"]);
    w.wait_until(20, "db to start a third time", || starts("db") == 3);
    assert_eq!(starts("app"), 2, "--no-deps restarts db alone");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// A `start` right after a `stop` answered must start the container even while the
// stopped container's supervisor is still exiting (it holds the container's lock
// for a moment): `restart` used to report Started and leave it exited.
#[test]
fn restart_in_quick_succession_always_ends_running() {
    let w = World::new();
    let p = w.project(
        "quickrestart",
        r#"
services:
  a:
    image: IMAGE
    init: true
    command: sleep infinity
  b:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    w.ok(&p, &["up", "-d"]);
    for i in 0..5 {
        w.ok(&p, &["restart", "-t", "0"]);
        let st = states(&w, &p);
        assert!(st.values().all(|s| s == "running"), "round {i}: {st:?}");
    }
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestRestartWithDependencies (restart_test.go): restart of a
// service must restart its `restart: true` dependants once it is healthy, and
// an up that recreates it must stop and start them around it.
#[test]
fn test_restart_with_dependencies() {
    let w = World::new();
    let p = w.project(
        "e2e-restart-deps",
        r#"
services:
  with-restart:
    image: IMAGE
    init: true
    command: tail -f /dev/null
    stop_signal: SIGTERM
    depends_on:
      nginx: {condition: service_healthy, restart: true}

  no-restart:
    image: IMAGE
    init: true
    command: tail -f /dev/null
    stop_signal: SIGTERM
    depends_on:
      nginx: { condition: service_healthy }

  nginx:
    image: IMAGE
    init: true
    command: httpd -f -p 80
    labels:
      TEST: ${LABEL:-test}
    stop_signal: SIGTERM
    healthcheck:
      test:     "echo | nc -w 5 localhost 80"
      interval: 1s
      timeout:  1s
      retries:  10
"#,
    );
    let name = |svc: &str| format!("Container e2e-restart-deps-{svc}-1");
    w.ok(&p, &["up", "-d"]);
    let (code, out, err) = run(&w, &p, &["restart", "nginx"]);
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "{all}");
    for want in [
        format!("{} Restarting", name("nginx")),
        format!("{} Healthy", name("nginx")),
        format!("{} Started", name("with-restart")),
    ] {
        assert!(all.contains(&want), "no {want:?} in:\n{all}");
    }
    assert!(!all.contains("no-restart"), "{all}");

    let out = w.berth_env(&p, &["up", "-d"], &[("LABEL", "recreate")]);
    let all = common::scenario::combined(&out);
    assert!(out.status.success(), "{all}");
    for want in [
        format!("{} Stopped", name("with-restart")),
        format!("{} Recreated", name("nginx")),
        format!("{} Healthy", name("nginx")),
        format!("{} Started", name("with-restart")),
        format!("{} Running", name("no-restart")),
    ] {
        assert!(all.contains(&want), "no {want:?} in:\n{all}");
    }
    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    w.assert_clean();
}

// SCENARIOS.md § TestRestartWithProfiles (restart_test.go): restart of a service
// of a profile must restart it without the profile being named again.
#[test]
fn test_restart_with_profiles() {
    let w = World::new();
    let p = w.project(
        "e2e-restart-profiles",
        r#"
services:
  restart:
    image: IMAGE
    init: true
    command: sh -c "if [ -f /tmp/restart.lock ] ; then sleep infinity; else touch /tmp/restart.lock; fi"

  test:
    profiles:
      - test
    image: IMAGE
    init: true
    command: sh -c "if [ -f /tmp/restart.lock ] ; then sleep infinity; else touch /tmp/restart.lock; fi"
"#,
    );
    w.ok(&p, &["--profile", "test", "up", "-d"]);
    let (code, out, err) = run(&w, &p, &["restart", "test"]);
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "{all}");
    assert!(
        all.contains("Container e2e-restart-profiles-test-1 Started"),
        "{all}"
    );
    wait_states(
        &w,
        &p,
        10,
        &[
            ("e2e-restart-profiles-restart-1", "exited"),
            ("e2e-restart-profiles-test-1", "running"),
        ],
    );
    w.ok(
        &p,
        &["--profile", "test", "down", "-t", "0", "--remove-orphans"],
    );
    w.assert_clean();
}
