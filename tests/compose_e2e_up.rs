//! docker compose's `pkg/e2e/up_test.go` scenarios, run against berth.
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

use common::scenario::{has_line, ids, map, run, wait_states};
use common::{fails, states, World};

// SCENARIOS.md § TestUpServiceUnhealthy (up_test.go): up must fail when a service
// never turns healthy.
#[test]
fn test_up_service_unhealthy() {
    let w = World::new();
    let p = w.project(
        "unhealthy",
        r#"
services:
  fail:
    image: IMAGE
    init: true
    command: sleep infinity
    healthcheck:
      test: "false"
      interval: 1s
      retries: 3
  depends:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      fail:
        condition: service_healthy
"#,
    );
    // up reports the unhealthy container and fails
    let err = fails(&w, &p, &["up", "-d"]);
    assert!(
        err.contains("container unhealthy-fail-1 is unhealthy"),
        "{err}"
    );
    let st = states(&w, &p);
    assert_eq!(st["unhealthy-fail-1"], "running");
    assert_ne!(
        st.get("unhealthy-depends-1").map(String::as_str),
        Some("running")
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpProfile (up_test.go): up on a profiled service must start
// it and its dependencies, not its profile siblings.
#[test]
fn test_up_profile() {
    let w = World::new();
    let p = w.project(
        "upprofile",
        r#"
services:
  foo:
    profiles: [ test ]
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on: [ db ]

  bar:
    profiles: [ test ]
    image: IMAGE
    init: true
    command: sleep infinity

  db:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // up starts the target and its dependency only
    w.ok(&p, &["up", "-d", "foo"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("upprofile-db-1", "running"),
            ("upprofile-foo-1", "running")
        ])
    );
    w.ok(&p, &["--profile", "test", "down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpWithDependencyNotRequired (up_test.go): up must start the
// service even when an optional dependency cannot.
#[test]
fn test_up_with_dependency_not_required() {
    let w = World::new();
    let p = w.project(
        "notrequired",
        r#"
services:
  foo:
    image: IMAGE
    command: echo "foo"
    depends_on:
      bar:
        required: false
        condition: service_healthy
  bar:
    image: IMAGE
    init: true
    command: sleep infinity
    profiles: [not-required]
"#,
    );
    // up succeeds, reporting the optional dependency failure
    w.ok(&p, &["up", "-d"]);
    w.wait_until(10, "foo to run", || {
        w.ok(&p, &["logs", "--no-log-prefix"]).contains("foo")
    });
    let st = states(&w, &p);
    assert_eq!(st.keys().collect::<Vec<_>>(), ["notrequired-foo-1"]);
    w.ok(&p, &["down"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpStopWithLogsMixed (up_test.go): on abort, logs of
// surviving services must keep flowing while others stop. berth does not run
// `pre_stop` hooks yet, so service2 says it is stopping from its own SIGTERM
// trap, which is output written after the abort all the same; and it prints a
// line of its own instead of pinging.
#[test]
fn test_up_stop_with_logs_mixed() {
    let w = World::new();
    let p = w.project(
        "logsmixed",
        r#"
services:
  service1:
    image: IMAGE
    command: sh -c "sleep 2"
  service2:
    image: IMAGE
    init: true
    command: ['sh', '-c', 'trap "echo stop hook running...; exit 0" TERM; while true; do echo 64 bytes; sleep 0.2; done']
"#,
    );
    // up aborts on the first exit but still relays service2's logs and stop hook
    let (code, out, err) = run(&w, &p, &["up", "--abort-on-container-exit"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("Container logsmixed-service1-1 Stopped"),
        "{err}"
    );
    assert!(
        has_line(&out, "service2-1", "stop hook running..."),
        "{out}"
    );
    assert!(has_line(&out, "service2-1", "64 bytes"), "{out}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// berth's own: attached up's output flags (`--attach`, `--no-attach`,
// `--no-log-prefix`, `--timestamps`) and its flag conflicts, as docker compose has them.
#[test]
fn up_attach_and_output_flags() {
    let w = World::new();
    let p = w.project(
        "attachflags",
        r#"
services:
  a:
    image: IMAGE
    command: echo from-a
  b:
    image: IMAGE
    command: echo from-b
    depends_on: [a]
"#,
    );
    // `up` returns once the attached containers exited: the others may still
    // run, and a container that runs on is kept (with its output) by the next `up`.
    let both_exited = || {
        wait_states(
            &w,
            &p,
            20,
            &[("attachflags-a-1", "exited"), ("attachflags-b-1", "exited")],
        )
    };
    let out = w.ok(&p, &["up", "--attach", "b", "--no-log-prefix"]);
    assert!(out.lines().any(|l| l == "from-b"), "{out}");
    assert!(!out.contains("from-a"), "{out}");
    assert!(out.contains("Attaching to b-1"), "{out}");
    let out = w.ok(
        &p,
        &["up", "--no-attach", "b", "--timestamps", "--no-color"],
    );
    assert!(!out.contains("from-b"), "{out}");
    let line = out
        .lines()
        .find(|l| l.ends_with(" from-a"))
        .unwrap_or_else(|| panic!("{out}"));
    // `a-1  | 2024-…Z from-a`
    let stamp = line.split(" | ").nth(1).unwrap().split(' ').next().unwrap();
    assert!(stamp.ends_with('Z') && stamp.contains('T'), "{line}");
    // `up b` attaches to b only; --attach-dependencies adds a.
    both_exited();
    let out = w.ok(&p, &["up", "b"]);
    assert!(!out.contains("from-a") && out.contains("from-b"), "{out}");
    both_exited();
    let out = w.ok(&p, &["up", "--attach-dependencies", "b"]);
    assert!(out.contains("from-a") && out.contains("from-b"), "{out}");
    for (args, msg) in [
        (
            &["up", "-d", "--abort-on-container-exit"][..],
            "--detach cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach, --attach-dependencies or --watch",
        ),
        (
            &["up", "--wait", "--exit-code-from", "a"][..],
            "--wait cannot be combined with --abort-on-container-exit, --attach or --attach-dependencies",
        ),
        (
            &["up", "--abort-on-container-exit", "--abort-on-container-failure"][..],
            "--abort-on-container-failure cannot be combined with --abort-on-container-exit",
        ),
        (
            &["up", "--attach", "a", "--attach-dependencies"][..],
            "cannot combine --attach and --attach-dependencies",
        ),
        (
            &["up", "--attach", "nope"][..],
            "cannot attach to services not included in up: nope",
        ),
        (&["up", "--exit-code-from", "nope"][..], "no such service: nope"),
    ] {
        let text = fails(&w, &p, args);
        assert!(text.contains(msg), "{args:?}: {text}");
    }
    w.ok(&p, &["down"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpDependenciesNotStopped (up_test.go): Ctrl-C on an
// attached `up app` stops what `up` was asked for, not the dependencies it
// started along the way.
#[test]
fn test_up_dependencies_not_stopped() {
    use std::io::{BufRead, BufReader};
    let w = World::new();
    let p = w.project(
        "depsnotstopped",
        r#"
services:
  dependency:
    image: IMAGE
    init: true
    command: /bin/sh -c 'while true; do echo "hello dependency"; sleep 1; done'

  app:
    depends_on: ['dependency']
    image: IMAGE
    init: true
    command: /bin/sh -c 'while true; do echo "hello app"; sleep 1; done'
"#,
    );
    let mut child = w
        .berth_command(&p, &["up", "app"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("hello app")),
        "no output from app"
    );
    // SAFETY: plain kill(2) on the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    // compose v5 exits 130 once interrupted
    assert_eq!(status.code(), Some(130), "{status:?}\n{rest:?}");
    let st = states(&w, &p);
    assert_eq!(st["depsnotstopped-app-1"], "exited");
    assert_eq!(st["depsnotstopped-dependency-1"], "running");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// `up` that recreates a service restarts (stops, then starts: same container) the
// services that depend on it with `restart: true`; plain dependants are kept.
#[test]
fn up_restarts_restart_true_dependents_of_a_recreated_service() {
    let w = World::new();
    let file = |marker: &str| {
        format!(
            r#"
x-svc: &svc
  image: IMAGE
  command: ["sh", "-c", "echo started; trap 'exit 0' TERM; sleep 3600 & wait"]
services:
  db:
    <<: *svc
    environment:
      MARKER: "{marker}"
  app:
    <<: *svc
    depends_on:
      db: {{condition: service_started, restart: true}}
  other:
    <<: *svc
    depends_on: [db]
"#
        )
    };
    let p = w.project("uprestart", &file("one"));
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
    let before = ids(&w, &p);
    std::fs::write(
        p.join("compose.yaml"),
        file("two").replace("IMAGE", common::IMAGE),
    )
    .unwrap();
    let plan = w.ok(&p, &["plan"]);
    assert!(plan.contains("restart (db is recreated"), "{plan}");
    w.ok(&p, &["up", "-d"]);
    let after = ids(&w, &p);
    assert_ne!(
        before["uprestart-db-1"], after["uprestart-db-1"],
        "db is recreated"
    );
    assert_eq!(
        before["uprestart-app-1"], after["uprestart-app-1"],
        "app is restarted, not recreated"
    );
    w.wait_until(20, "app to start again", || starts("app") == 2);
    assert_eq!(before["uprestart-other-1"], after["uprestart-other-1"]);
    assert_eq!(starts("other"), 1, "a plain dependant is left running");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpWithDependencyExit (up_test.go): up must fail when a
// dependency exits before turning healthy. The fixture's db has no healthcheck,
// so docker compose's verdict depends on whether db has exited by its first
// look (500 ms in); a healthcheck that never gets to run makes "exited" the
// only answer, on a loaded machine too.
#[test]
fn test_up_with_dependency_exit() {
    let w = World::new();
    let p = w.project(
        "depexit",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      db:
        condition: service_healthy
  db:
    image: IMAGE
    command: sh -c "exit 1"
    healthcheck:
      test: "true"
      interval: 1h
      start_period: 1h
"#,
    );
    // up reports the exited dependency and fails
    let (code, out, err) = run(&w, &p, &["up", "-d"]);
    let all = format!("{out}{err}");
    assert_eq!(code, 1, "{all}");
    assert!(
        all.contains("dependency failed to start: container depexit-db-1 exited (1)"),
        "{all}"
    );
    // docker compose has created web by then; berth creates a container once
    // its dependencies are ready, so web is not there at all: either way it
    // never ran.
    let st = states(&w, &p);
    assert!(
        st.get("depexit-web-1").is_none_or(|s| s == "created"),
        "{st:?}"
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestScaleDoesntRecreate (up_test.go): scaling up must add a
// replica without recreating the existing one.
#[test]
fn test_scale_doesnt_recreate() {
    let w = World::new();
    let p = w.project(
        "scalenorecreate",
        r#"
services:
  simple:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // up starts the first replica
    w.ok(&p, &["up", "-d"]);
    let first = ids(&w, &p);
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        ["scalenorecreate-simple-1"]
    );
    // up --scale adds the second replica, keeping the first
    let (code, out, err) = run(&w, &p, &["up", "--scale", "simple=2", "-d"]);
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "{all}");
    assert!(!all.contains("Recreated"), "{all}");
    let now = ids(&w, &p);
    assert_eq!(
        now.keys().collect::<Vec<_>>(),
        ["scalenorecreate-simple-1", "scalenorecreate-simple-2"]
    );
    assert_eq!(
        now["scalenorecreate-simple-1"],
        first["scalenorecreate-simple-1"]
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpImageID (up_test.go): a service image referenced by its
// bare ID must be usable.
#[test]
fn test_up_image_id() {
    let w = World::new();
    let p = w.project(
        "upimageid",
        r#"
services:
  test:
    image: ${ID:?ID variable must be set}
    command: echo ran-from-the-id
"#,
    );
    let inspect = w.ok(&p, &["image", "inspect", common::IMAGE]);
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let digest = v[0]["Id"].as_str().unwrap().to_string();
    let (_, id) = digest.split_once(':').unwrap();
    // up runs the container from the image ID
    let out = w.berth_env(&p, &["up"], &[("ID", id)]);
    let text = common::scenario::combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ran-from-the-id"), "{text}");
    let out = w.berth_env(&p, &["down"], &[("ID", id)]);
    assert!(out.status.success());
    w.assert_clean();
}

// berth's own: `up` and `create` take service name patterns as docker compose
// does (compose-go matches them with Go's filepath.Match).
#[test]
fn up_selects_services_by_pattern() {
    let w = World::new();
    let p = w.project(
        "upglob",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
  web-admin:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
  db:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
"#,
    );
    w.ok(&p, &["up", "-d", "web*"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("upglob-web-1", "running"),
            ("upglob-web-admin-1", "running")
        ])
    );
    w.ok(&p, &["create", "[d]b"]);
    assert_eq!(states(&w, &p)["upglob-db-1"], "created");
    let (code, _, err) = run(&w, &p, &["up", "-d", "nope*"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no such service: nope*"), "{err}");
    // The other commands that take services take patterns too.
    w.ok(&p, &["start", "d?"]);
    w.ok(&p, &["stop", "-t", "0", "web*"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("upglob-db-1", "running"),
            ("upglob-web-1", "exited"),
            ("upglob-web-admin-1", "exited")
        ])
    );
    let ps = w.ok(&p, &["ps", "-a", "--format", "{{.Service}}", "*-admin"]);
    assert_eq!(ps.trim(), "web-admin");
    w.ok(&p, &["rm", "-f", "web*"]);
    assert_eq!(states(&w, &p), map(&[("upglob-db-1", "running")]));
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpWithAllResources (up_test.go): up --all-resources must
// create volumes and networks no service uses.
#[test]
fn test_up_with_all_resources() {
    let w = World::new();
    let p = w.project(
        "allresources",
        r#"
services:
  app:
    image: IMAGE
    command: ["true"]

volumes:
  my_vol: {}

networks:
  my_net: {}
"#,
    );
    // up creates the unused volume and network
    let (code, out, err) = run(&w, &p, &["--all-resources", "up"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Volume allresources_my_vol Created"), "{err}");
    assert!(err.contains("Network allresources_my_net Created"), "{err}");
    // without the flag they are not made
    let q = w.project(
        "someresources",
        &std::fs::read_to_string(p.join("compose.yaml")).unwrap(),
    );
    let (code, out, err) = run(&w, &q, &["up"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("someresources_my_vol"), "{err}");
    assert!(!err.contains("someresources_my_net"), "{err}");
    w.ok(&p, &["down", "-v", "-t", "0"]);
    w.ok(&q, &["down", "-v", "-t", "0"]);
    assert!(!w.root().join("volumes/allresources_my_vol").exists());
    w.assert_clean();
}
