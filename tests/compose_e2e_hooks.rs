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

use common::scenario::{combined, volume_file};
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
    // berth still stops and removes the container: the project can be taken down
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
