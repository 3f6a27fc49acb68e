//! docker compose's `pkg/e2e/cascade_test.go` scenarios, run against berth.
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

use common::scenario::{run, Background};
use common::{states, World};

/// The cascade fixture (`fixtures/cascade/compose.yaml`).
const CASCADE: &str = r#"
services:
  running:
    image: IMAGE
    command: sleep infinity
    init: true

  exit:
    image: IMAGE
    command: /bin/true
    depends_on:
      running:
        condition: service_started

  fail:
    image: IMAGE
    command: sh -c "return 111"
    depends_on:
      exit:
        condition: service_completed_successfully
"#;

// SCENARIOS.md § TestCascadeStop (cascade_test.go): up --abort-on-container-exit
// must stop the project on the first exit, and exit 0 without --exit-code-from.
#[test]
fn test_cascade_stop() {
    let w = World::new();
    let p = w.project("cascadestop", CASCADE);
    // up aborts once a container exits, reporting which one
    let (code, out, err) = run(&w, &p, &["up", "--abort-on-container-exit"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("exit-1 exited with code 0"), "{out}");
    assert!(out.contains("Aborting on container exit..."), "{out}");
    assert_eq!(states(&w, &p)["cascadestop-running-1"], "exited");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestCascadeFail (cascade_test.go): up --abort-on-container-failure
// must propagate the failing container's exit code.
#[test]
fn test_cascade_fail() {
    let w = World::new();
    let p = w.project("cascadefail", CASCADE);
    // up keeps going on clean exits and aborts on the failure, with its exit code
    let (code, out, err) = run(&w, &p, &["up", "--abort-on-container-failure"]);
    assert_eq!(code, 111, "{out}\n{err}");
    assert!(out.contains("exit-1 exited with code 0"), "{out}");
    assert!(out.contains("fail-1 exited with code 111"), "{out}");
    assert_eq!(states(&w, &p)["cascadefail-running-1"], "exited");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// cascade_test.go § TestCascadeIgnoresOneOffContainer: the exit of a one-off
// container of an attached service must not abort `up --abort-on-container-exit`.
#[test]
fn test_cascade_ignores_one_off_container() {
    let w = World::new();
    let p = w.project("cascadeoneoff", CASCADE);
    let mut up = Background::start(&w, &p, &["up", "--abort-on-container-exit", "running"], &[]);
    up.wait_for(&w, 60, "Attaching to running-1");
    // a one-off of the attached service runs and exits
    w.ok(&p, &["run", "--rm", "--no-deps", "running", "/bin/true"]);
    assert!(up.running(), "{}", up.output());
    assert_eq!(states(&w, &p)["cascadeoneoff-running-1"], "running");
    // Docker compose waits 3 s for an abort that must not come; here the
    // service's own exit is the next event `up` sees: had the one-off's exit
    // aborted `up`, "Aborting" would come before it.
    w.ok(&p, &["stop", "running"]);
    up.wait(&w, 60);
    let out = up.stdout();
    let exited = out
        .find("running-1 exited with code")
        .unwrap_or_else(|| panic!("{out}"));
    let aborted = out.find("Aborting on container exit").unwrap_or(usize::MAX);
    assert!(exited < aborted, "{out}");
    assert!(!out.contains("running-run-"), "{out}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
