//! docker compose's `pkg/e2e/compose_up_test.go` scenarios, run against berth.
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

use common::scenario::{has_line, ids, run, wait_states};
use common::{by_name, fails, free_port, states, World};

/// The `TestUpExitCodeFrom*` fixture.
const EXIT_CODE_FROM: &str = r#"
services:
  safe:
    image: IMAGE
    init: true
    command: ['/bin/sh', '-c', 'sleep infinity']  # never exiting
  failure:
    image: IMAGE
    init: true
    command: ['/bin/sh', '-c', 'sleep 1 ; echo "exiting with error" ; exit 42']
  test:
    image: IMAGE
    init: true
    command: ['/bin/sh', '-c', 'sleep 99999 ; echo "tests are OK"']  # very long job
    depends_on: [safe]
"#;

// SCENARIOS.md § TestUpWait (compose_up_test.go): up --wait must return once
// dependencies completed and services run.
#[test]
fn test_up_wait() {
    let w = World::new();
    let p = w.project(
        "upwait",
        r#"
services:
  oneshot:
    image: IMAGE
    command: echo 'hello world'
  longrunning:
    image: IMAGE
    init: true
    depends_on:
      oneshot:
        condition: service_completed_successfully
    command: sleep infinity
"#,
    );
    // up --wait returns with the long-running service up and the oneshot completed
    w.ok(&p, &["up", "--wait"]);
    let ps = by_name(&w, &p);
    assert_eq!(ps["upwait-longrunning-1"]["State"], "running");
    assert_eq!(ps["upwait-oneshot-1"]["State"], "exited");
    assert_eq!(ps["upwait-oneshot-1"]["ExitCode"], 0);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpWaitTimeout (compose_up_test.go): up --wait --wait-timeout
// must fail once the timeout expires instead of silently succeeding.
#[test]
fn test_up_wait_timeout() {
    let w = World::new();
    let p = w.project(
        "waittimeout",
        r#"
services:
  app:
    image: IMAGE
    init: true
    command: sleep infinity
    healthcheck:
      # Keeps failing during a long start_period, so health stays "starting"
      # and --wait can only end by hitting its timeout.
      test: ["CMD", "false"]
      interval: 1s
      retries: 3
      start_period: 120s
"#,
    );
    // up --wait fails after the timeout with the service still starting
    let t0 = std::time::Instant::now();
    let err = fails(&w, &p, &["up", "--wait", "--wait-timeout", "3"]);
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        t0.elapsed()
    );
    assert!(err.to_lowercase().contains("timeout"), "{err}");
    let ps = by_name(&w, &p);
    assert_eq!(ps["waittimeout-app-1"]["State"], "running");
    assert_eq!(ps["waittimeout-app-1"]["Health"], "starting");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpExitCodeFrom (compose_up_test.go): up --exit-code-from
// must return the selected service's exit code.
#[test]
fn test_up_exit_code_from() {
    let w = World::new();
    let p = w.project("exitcodefrom", EXIT_CODE_FROM);
    // up returns the failing service's code once it exits
    let (code, out, err) = run(&w, &p, &["up", "--exit-code-from=failure", "failure"]);
    assert_eq!(code, 42, "{out}\n{err}");
    assert!(has_line(&out, "failure-1", "exiting with error"), "{out}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpExitCodeFromContainerKilled (compose_up_test.go):
// up --exit-code-from must report 143 for a service stopped by the abort.
#[test]
fn test_up_exit_code_from_container_killed() {
    let w = World::new();
    let p = w.project("exitcodekilled", EXIT_CODE_FROM);
    // the watched long-lived service is stopped when another exits
    let (code, out, err) = run(&w, &p, &["up", "--exit-code-from=test"]);
    assert_eq!(code, 143, "{out}\n{err}");
    assert!(out.contains("failure-1 exited with code 42"), "{out}");
    assert!(out.contains("Aborting on container exit..."), "{out}");
    assert!(out.contains("test-1 exited with code 143"), "{out}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestStdoutStderr (compose_up_test.go): up must relay each
// container stream to its own: stdout to stdout, stderr to stderr.
#[test]
fn test_stdout_stderr() {
    let w = World::new();
    let p = w.project(
        "stdouterr",
        r#"
services:
  stderr:
    image: IMAGE
    init: true
    command: /bin/ash /log_to_stderr.sh
    volumes:
           - ./log_to_stderr.sh:/log_to_stderr.sh
"#,
    );
    std::fs::write(
        p.join("log_to_stderr.sh"),
        "echo \"log to stdout\"\necho \"log to stderr\" >&2\n",
    )
    .unwrap();
    // the two streams arrive separated
    let (code, out, err) = run(&w, &p, &["up"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(has_line(&out, "stderr-1", "log to stdout"), "{out}");
    assert!(!out.contains("log to stderr"), "{out}");
    assert!(has_line(&err, "stderr-1", "log to stderr"), "{err}");
    w.ok(&p, &["down"]);
    w.assert_clean();
}

// berth's own: one-shot jobs under `up --wait` (docker/compose#9273, #10596). A
// job something waits for with `service_completed_successfully` is done when it
// exits 0; one that fails makes `--wait` fail, naming it and its code; a service
// that exits 0 with nobody waiting for it fails `--wait` as in docker compose.
#[test]
fn one_shot_jobs_under_up_wait() {
    let w = World::new();
    let job = |code: u8| {
        format!(
            r#"
services:
  migrate:
    image: IMAGE
    command: sh -c "echo migrating; exit {code}"
  web:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      migrate:
        condition: service_completed_successfully
  lonely:
    image: IMAGE
    command: "true"
    profiles: [extra]
  # Turns healthy on its first probe, a second in: by then `lonely` has exited.
  slow:
    image: IMAGE
    init: true
    command: sleep infinity
    profiles: [extra]
    healthcheck:
      test: "true"
      interval: 1s
  after_slow:
    image: IMAGE
    init: true
    command: sleep infinity
    profiles: [extra]
    depends_on:
      slow:
        condition: service_healthy
"#
        )
    };
    let p = w.project("jobs", &job(0));
    // The job exits 0: up --wait succeeds and the dependant runs.
    let out = w.berth_in(&p, &["up", "--wait"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Container jobs-migrate-1 Exited"), "{err}");
    assert!(err.contains("Container jobs-web-1 Healthy"), "{err}");
    let st = states(&w, &p);
    assert_eq!(st["jobs-web-1"], "running");
    assert_eq!(st["jobs-migrate-1"], "exited");
    // The job exits 1: up --wait fails, naming it and its exit code.
    let p = w.project("jobs", &job(1));
    let text = fails(&w, &p, &["up", "--wait", "--force-recreate"]);
    assert!(
        text.contains(r#"service "migrate" didn't complete successfully: exit 1"#),
        "{text}"
    );
    // A service exiting 0 that nobody waits for is not a job: --wait fails.
    let text = fails(
        &w,
        &p,
        &["--profile", "extra", "up", "--wait", "lonely", "after_slow"],
    );
    assert!(
        text.contains("container jobs-lonely-1 exited (0)"),
        "{text}"
    );
    w.ok(&p, &["--profile", "extra", "down", "-t", "0"]);
    w.assert_clean();
}

/// `n` consecutive ports free on 127.0.0.1 just now: the first.
fn free_range(n: u16) -> u16 {
    'search: loop {
        let base = free_port();
        if base > u16::MAX - n {
            continue;
        }
        // Hold them while checking, so that the range is free as a whole.
        let mut held = vec![];
        for port in base..base + n {
            match std::net::TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => held.push(l),
                Err(_) => continue 'search,
            }
        }
        return base;
    }
}

// compose_up_test.go § TestPortRange: a published port range must accommodate
// scaled replicas and single ports alike.
#[test]
fn test_port_range() {
    let w = World::new();
    let lo = free_range(11);
    let hi = lo + 10;
    let p = w.project(
        "portrange",
        &format!(
            r#"
services:
  a:
    image: IMAGE
    init: true
    command: sleep infinity
    scale: 5
    ports:
      - "127.0.0.1:{lo}-{hi}:80"

  b:
    image: IMAGE
    init: true
    command: sleep infinity
    ports:
      - "127.0.0.1::80"

  c:
    image: IMAGE
    init: true
    command: sleep infinity
    ports:
      - "127.0.0.1::80"
"#
        ),
    );
    // up binds every replica within the range
    w.ok(&p, &["up", "-d"]);
    let ps = by_name(&w, &p);
    let mut ports = vec![];
    for i in 1..=5 {
        let c = &ps[&format!("portrange-a-{i}")];
        assert_eq!(c["State"], "running", "{c}");
        let port = c["Publishers"][0]["PublishedPort"].as_u64().unwrap();
        assert!(
            (lo as u64..=hi as u64).contains(&port),
            "{port} not in {lo}-{hi}"
        );
        ports.push(port);
    }
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 5, "{ports:?}");
    assert_eq!(ps["portrange-b-1"]["State"], "running");
    assert_eq!(ps["portrange-c-1"]["State"], "running");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// compose_up_test.go § TestLoggingDriver: a logging-driver address change must
// reconfigure the service on the next up. The collector (fluent-bit) becomes a
// busybox container on a free loopback port; `app` keeps docker's fluentd
// driver options, which berth reads (its logs stay in berth's own log).
#[test]
fn test_logging_driver() {
    let w = World::new();
    let port = free_port();
    let p = w.project(
        "loggingdriver",
        &format!(
            r#"
services:
  fluentbit:
    image: IMAGE
    init: true
    command: sleep infinity
    ports:
      - "127.0.0.1:{port}:24224"
    environment:
      FOO: ${{BAR}}

  app:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      fluentbit:
        condition: service_started
        restart: true
    logging:
      driver: fluentd
      options:
        fluentd-address: ${{HOST:-127.0.0.1}}:{port}
"#
        ),
    );
    let env = |bar: &'static str| [("HOST", "127.0.0.1"), ("BAR", bar)];
    // up starts the log collector and the app
    let out = w.berth_env(&p, &["up", "-d"], &env("foo"));
    assert!(out.status.success(), "{}", common::scenario::combined(&out));
    wait_states(
        &w,
        &p,
        10,
        &[
            ("loggingdriver-app-1", "running"),
            ("loggingdriver-fluentbit-1", "running"),
        ],
    );
    let before = ids(&w, &p);
    // a collector config change is applied by recreating it
    let out = w.berth_env(&p, &["up", "-d"], &env("zot"));
    assert!(out.status.success(), "{}", common::scenario::combined(&out));
    let after = ids(&w, &p);
    assert_ne!(
        before["loggingdriver-fluentbit-1"],
        after["loggingdriver-fluentbit-1"]
    );
    assert_eq!(states(&w, &p)["loggingdriver-app-1"], "running");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
