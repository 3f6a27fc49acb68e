//! docker compose's `pkg/e2e/hooks_test.go` scenarios, run against berth.
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

use common::scenario::{combined, ids, volume_file};
use common::{states, World};

const HOOKS: &str = r#"
services:
  sample:
    image: IMAGE
    init: true
    command: sleep infinity
    volumes:
      - data:/data
    pre_stop:
      - command: sh -c 'echo "In the pre-stop" >> /data/log.txt'
  test:
    image: IMAGE
    init: true
    command: sleep infinity
    post_start:
      - command: sh -c 'echo env'
volumes:
  data:
"#;

// SCENARIOS.md § TestPostStartAndPreStopHook (hooks_test.go): post_start and
// pre_stop hooks in one project must not interfere with up.
#[test]
fn test_post_start_and_pre_stop_hook() {
    let w = World::new();
    let p = w.project("hooksboth", HOOKS);
    // up starts both services and runs the post_start hook
    let out = w.berth_in(&p, &["up", "-d"]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("not supported"),
        "hooks are supported:\n{text}"
    );
    let st = states(&w, &p);
    assert_eq!(st["hooksboth-sample-1"], "running");
    assert_eq!(st["hooksboth-test-1"], "running");
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// SCENARIOS.md § TestPreStopHookSuccess (hooks_test.go): a pre_stop hook must run
// in the container before it is stopped.
#[test]
fn test_pre_stop_hook_success() {
    let w = World::new();
    let p = w.project(
        "prestopok",
        r#"
services:
  sample:
    image: IMAGE
    init: true
    command: sleep infinity
    volumes:
      - data:/data
    pre_stop:
      - command: sh -c 'echo "In the pre-stop" >> /data/log.txt'
volumes:
  data:
"#,
    );
    // up starts the service
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p)["prestopok-sample-1"], "running");
    assert_eq!(volume_file(&w, "prestopok_data", "log.txt"), "");
    // stop runs the hook before halting the container
    w.ok(&p, &["stop"]);
    assert_eq!(states(&w, &p)["prestopok-sample-1"], "exited");
    // the hook's write is visible in the volume
    assert_eq!(
        volume_file(&w, "prestopok_data", "log.txt"),
        "In the pre-stop\n"
    );
    // a stopped container has nothing to run the hook in: down skips it
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// SCENARIOS.md § TestPreStopHookInError (hooks_test.go): a failing pre_stop hook
// must fail the down, reporting the hook's exit status.
#[test]
fn test_pre_stop_hook_in_error() {
    let w = World::new();
    let p = w.project(
        "prestopfail",
        r#"
services:
  sample:
    image: IMAGE
    init: true
    command: sleep infinity
    pre_stop:
      - command: sh -c 'command in error'
"#,
    );
    // up starts the service
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p)["prestopfail-sample-1"], "running");
    // down fails on the hook error
    let out = w.berth_in(&p, &["down", "-t", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", combined(&out));
    assert!(
        combined(&out).contains("sample hook exited with status 127"),
        "{}",
        combined(&out)
    );
    // the container is kept, running, as docker keeps it
    assert_eq!(states(&w, &p)["prestopfail-sample-1"], "running");
    // a killed container has no hook to run: down takes it away
    w.ok(&p, &["kill"]);
    w.ok(&p, &["down", "-t", "0"]);
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}

// SCENARIOS.md § TestPreStopHookSuccessWithPreviousStop (hooks_test.go): stopping
// a single service must run its pre_stop hook and only halt that service.
#[test]
fn test_pre_stop_hook_success_with_previous_stop() {
    let w = World::new();
    let p = w.project("prestopone", HOOKS);
    // up starts both services
    w.ok(&p, &["up", "-d"]);
    // stop on the hooked service succeeds
    w.ok(&p, &["stop", "sample"]);
    let st = states(&w, &p);
    assert_eq!(st["prestopone-sample-1"], "exited");
    assert_eq!(st["prestopone-test-1"], "running");
    assert_eq!(
        volume_file(&w, "prestopone_data", "log.txt"),
        "In the pre-stop\n"
    );
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// hooks_test.go TestPostStartHookSuccess: a post_start hook must run after the
// service starts, without failing up — with its own user, working_dir and
// environment.
#[test]
fn test_post_start_hook_success() {
    let w = World::new();
    let p = w.project(
        "poststartok",
        r#"
services:
  test:
    image: IMAGE
    init: true
    command: sleep infinity
    post_start:
      - command: sh -c 'echo "$$(id -u) $$(pwd) $$GREETING" > /tmp/hook'
        user: nobody
        working_dir: /tmp
        environment:
          GREETING: hello
"#,
    );
    // up runs the hook and leaves the service running
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p)["poststartok-test-1"], "running");
    let out = w.ok(&p, &["exec", "-T", "test", "cat", "/tmp/hook"]);
    assert_eq!(out, "65534 /tmp hello\n");
    // a restart starts the container again, and the hook runs again
    w.ok(&p, &["exec", "-T", "test", "rm", "/tmp/hook"]);
    w.ok(&p, &["restart"]);
    let out = w.ok(&p, &["exec", "-T", "test", "cat", "/tmp/hook"]);
    assert_eq!(out, "65534 /tmp hello\n");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// hooks_test.go TestPostStartHookInError: a failing post_start hook must fail up,
// reporting the hook's exit status.
#[test]
fn test_post_start_hook_in_error() {
    let w = World::new();
    let p = w.project(
        "poststartfail",
        r#"
services:
  test:
    image: IMAGE
    init: true
    command: sleep infinity
    post_start:
      - command: sh -c 'command in error'
"#,
    );
    // up fails on the hook error
    let out = w.berth_in(&p, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(1), "{}", combined(&out));
    assert!(
        combined(&out).contains("test hook exited with status 127"),
        "{}",
        combined(&out)
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// A service whose `pre_start` hooks are `hooks` (YAML list items, indented
/// for `pre_start:`), sharing the `data` volume at `/shared`.
fn pre_start_project(hooks: &str, extra: &str) -> String {
    format!(
        r#"
services:
  sample:
    image: IMAGE
    init: true
    command: sh -c 'cat /shared/marker 2>/dev/null; sleep infinity'
    volumes:
      - data:/shared
{extra}    pre_start:
{hooks}
volumes:
  data:
"#
    )
}

/// The number of lines of a file of the project's `data` volume.
fn lines_in(w: &World, project: &str, file: &str) -> usize {
    volume_file(w, &format!("{project}_data"), file)
        .lines()
        .count()
}

// hooks_test.go TestPreStartHookSuccess: a pre_start hook must run before the
// service, which reads what the hook prepared.
#[test]
fn test_pre_start_hook_success() {
    let w = World::new();
    let p = w.project(
        "prestartok",
        &pre_start_project(
            "      - image: IMAGE\n        command: sh -c 'echo initialized > /shared/marker'",
            "",
        ),
    );
    // up waits for the service, started after the hook
    w.ok(&p, &["up", "-d", "--wait"]);
    // the service saw the file the hook wrote
    let logs = w.ok(&p, &["logs", "sample"]);
    assert!(logs.contains("initialized"), "{logs}");
    // the hook's container is gone once it succeeded
    assert_eq!(states(&w, &p).len(), 1, "{:?}", states(&w, &p));
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// hooks_test.go TestPreStartHookInError: a failing pre_start hook must fail up
// and leave the service created but not started.
#[test]
fn test_pre_start_hook_in_error() {
    let w = World::new();
    let p = w.project(
        "prestartfail",
        &pre_start_project("      - image: IMAGE\n        command: sh -c 'exit 17'", ""),
    );
    // up fails, reporting the hook's exit code
    let out = w.berth_in(&p, &["up", "-d"]);
    let text = combined(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("service \"sample\" pre_start[0] exited with code 17"),
        "{text}"
    );
    assert_eq!(states(&w, &p)["prestartfail-sample-1"], "created");
    // down also removes the hook container kept for inspection
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// hooks_test.go TestPreStartHookIdempotentReUp: an unchanged up must not re-run
// pre_start hooks on a running service.
#[test]
fn test_pre_start_hook_idempotent_re_up() {
    let w = World::new();
    let p = w.project(
        "prestartidem",
        &pre_start_project(
            "      - command: sh -c 'echo token >> /shared/tokens.txt'",
            "",
        ),
    );
    // first up runs the hook once
    w.ok(&p, &["up", "-d", "--wait"]);
    assert_eq!(lines_in(&w, "prestartidem", "tokens.txt"), 1);
    let before = ids(&w, &p);
    // an unchanged up does not re-run the hook
    w.ok(&p, &["up", "-d", "--wait"]);
    assert_eq!(ids(&w, &p), before, "not recreated");
    assert_eq!(lines_in(&w, "prestartidem", "tokens.txt"), 1);
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// hooks_test.go TestPreStartHookReRunOnSpecChange: a spec change must recreate
// the service and re-run its pre_start hooks.
#[test]
fn test_pre_start_hook_re_run_on_spec_change() {
    let w = World::new();
    let p = w.project(
        "prestartspec",
        &pre_start_project(
            "      - command: sh -c 'echo ${HOOK_VERSION} >> /shared/versions.txt'",
            "",
        ),
    );
    // up with the v1 spec runs the v1 hook
    let out = w.berth_env(&p, &["up", "-d", "--wait"], &[("HOOK_VERSION", "v1")]);
    assert!(out.status.success(), "{}", combined(&out));
    assert_eq!(volume_file(&w, "prestartspec_data", "versions.txt"), "v1\n");
    let before = ids(&w, &p);
    // up with the v2 spec recreates the service and re-runs the hook
    let out = w.berth_env(&p, &["up", "-d", "--wait"], &[("HOOK_VERSION", "v2")]);
    assert!(out.status.success(), "{}", combined(&out));
    assert_ne!(ids(&w, &p), before, "recreated");
    assert_eq!(
        volume_file(&w, "prestartspec_data", "versions.txt"),
        "v1\nv2\n"
    );
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// hooks_test.go TestPreStartHookForceRecreate: up --force-recreate must re-run
// pre_start hooks.
#[test]
fn test_pre_start_hook_force_recreate() {
    let w = World::new();
    let p = w.project(
        "prestartforce",
        &pre_start_project(
            "      - command: sh -c 'echo token >> /shared/tokens.txt'",
            "",
        ),
    );
    // first up runs the hook once
    w.ok(&p, &["up", "-d", "--wait"]);
    assert_eq!(lines_in(&w, "prestartforce", "tokens.txt"), 1);
    let before = ids(&w, &p);
    // force-recreate replaces the container and re-runs the hook
    w.ok(&p, &["up", "-d", "--force-recreate", "--wait"]);
    assert_ne!(ids(&w, &p), before, "recreated");
    assert_eq!(lines_in(&w, "prestartforce", "tokens.txt"), 2);
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// hooks_test.go TestPreStartHookMidSequenceFailure: a mid-sequence pre_start
// failure must run earlier hooks, then fail up pointing at the culprit.
#[test]
fn test_pre_start_hook_mid_sequence_failure() {
    let w = World::new();
    let p = w.project(
        "prestartmid",
        &pre_start_project(
            "      - image: IMAGE\n        command: sh -c 'echo ran-0 >> /shared/hooks.txt'\n      - image: IMAGE\n        command: sh -c 'echo failing >&2; exit 17'\n      - command: sh -c 'echo ran-2 >> /shared/hooks.txt'",
            "",
        ),
    );
    // up fails on the second hook, naming its index and exit code
    let out = w.berth_in(&p, &["up", "-d"]);
    let text = combined(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("pre_start[1] exited with code 17: failing"),
        "{text}"
    );
    assert_eq!(states(&w, &p)["prestartmid-sample-1"], "created");
    // the first hook did run before the failure, the third did not
    assert_eq!(volume_file(&w, "prestartmid_data", "hooks.txt"), "ran-0\n");
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// hooks_test.go TestPreStartHookSequentialOrder: pre_start hooks must run
// sequentially, in declaration order.
#[test]
fn test_pre_start_hook_sequential_order() {
    let w = World::new();
    let p = w.project(
        "prestartorder",
        &pre_start_project(
            "      - command: sh -c 'sleep 0.3; echo A >> /shared/out'\n      - command: sh -c 'echo B >> /shared/out'",
            "",
        ),
    );
    // up runs both hooks
    w.ok(&p, &["up", "-d", "--wait"]);
    // the volume shows A before B
    assert_eq!(volume_file(&w, "prestartorder_data", "out"), "A\nB\n");
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// hooks_test.go TestPreStartHookNotReRunOnScaleUp: scaling up must not re-run
// pre_start hooks while a replica is already running.
#[test]
fn test_pre_start_hook_not_re_run_on_scale_up() {
    let w = World::new();
    let p = w.project(
        "prestartscale",
        &pre_start_project(
            "      - command: sh -c 'echo token >> /shared/tokens.txt'",
            "",
        ),
    );
    // first up runs the hook once
    w.ok(&p, &["up", "-d", "--wait"]);
    assert_eq!(lines_in(&w, "prestartscale", "tokens.txt"), 1);
    // scaling up adds a replica without re-running the hook
    w.ok(&p, &["up", "-d", "--scale", "sample=2", "--wait"]);
    assert_eq!(
        states(&w, &p).values().filter(|s| *s == "running").count(),
        2
    );
    assert_eq!(lines_in(&w, "prestartscale", "tokens.txt"), 1);
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// hooks_test.go TestPreStartHookRunsOnceForScaledService: with the default
// per_replica: false, a pre_start hook must run once for the whole service.
#[test]
fn test_pre_start_hook_runs_once_for_scaled_service() {
    let w = World::new();
    let p = w.project(
        "prestartonce",
        &pre_start_project(
            "      - command: sh -c 'echo ran >> /shared/log'",
            "    deploy:\n      replicas: 2\n",
        ),
    );
    // up starts both replicas
    w.ok(&p, &["up", "-d", "--wait"]);
    assert_eq!(
        states(&w, &p).values().filter(|s| *s == "running").count(),
        2
    );
    // the hook ran exactly once across replicas
    assert_eq!(lines_in(&w, "prestartonce", "log"), 1);
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// hooks_test.go § TestPreStartHookBuildInheritance: a pre_start hook without an
// image runs on the service's built image (the marker only that image has).
#[test]
fn test_pre_start_hook_build_inheritance() {
    let w = World::new();
    let p = w.project(
        "hookbuild",
        r#"
services:
  sample:
    build:
      context: .
    command: sh -c 'cat /shared/marker.txt && sleep 5'
    volumes:
      - data:/shared
    pre_start:
      # No image specified - must fall back to the service's built image.
      - command: sh -c 'built-marker > /shared/marker.txt'
volumes:
  data:
"#,
    );
    std::fs::write(
        p.join("Dockerfile"),
        format!(
            "FROM {}\nRUN mkdir -p /usr/local/bin && printf '#!/bin/sh\\necho \"built-image-marker\"\\n' > /usr/local/bin/built-marker \\\n    && chmod +x /usr/local/bin/built-marker\n",
            common::IMAGE
        ),
    )
    .unwrap();
    let out = w.berth_in(&p, &["up", "-d", "--wait"]);
    assert!(out.status.success(), "{}", combined(&out));
    let logs = w.ok(&p, &["logs", "sample"]);
    assert!(logs.contains("built-image-marker"), "{logs}");
    w.ok(&p, &["down", "-t", "0", "-v", "--rmi", "local"]);
    w.assert_clean();
}
