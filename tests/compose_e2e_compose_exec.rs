//! docker compose's `pkg/e2e/compose_exec_test.go` scenarios, run against berth.
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

use common::scenario::combined;
use common::{fails, states, World};
use std::fs;

// compose_exec_test.go § TestLocalComposeExec: exec must run in the service
// container, propagate the exit code and pass only requested env.
#[test]
fn test_local_compose_exec() {
    let w = World::new();
    let p = w.project(
        "localexec",
        r#"
services:
  simple:
    image: IMAGE
    init: true
    command: top
  another:
    image: IMAGE
    init: true
    command: top
"#,
    );
    // up starts the service
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p)["localexec-simple-1"], "running");
    // a successful command exits 0
    w.ok(&p, &["exec", "simple", "/bin/true"]);
    // a failing command's exit code is propagated
    let out = w.berth_in(&p, &["exec", "simple", "/bin/false"]);
    assert_eq!(out.status.code(), Some(1), "{}", combined(&out));
    // exec -e forwards the variable when set on the caller
    let out = w.berth_env(
        &p,
        &["exec", "-e", "FOO", "simple", "env"],
        &[("FOO", "BAR")],
    );
    assert!(out.status.success(), "{}", combined(&out));
    assert!(
        combined(&out).lines().any(|l| l == "FOO=BAR"),
        "{}",
        combined(&out)
    );
    // exec -e without a value does not leak an empty variable
    let out = w.ok(&p, &["exec", "-e", "FOO", "simple", "env"]);
    assert!(!out.contains("FOO="), "{out}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestLocalComposeExecOneOff (compose_exec_test.go): exec must reach
// a one-off container, but --index must only match numbered replicas.
#[test]
fn test_local_compose_exec_oneoff() {
    let w = World::new();
    let p = w.project(
        "execoneoff",
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
    // run starts a detached one-off
    let name = w.ok(&p, &["run", "-d", "-e", "WHO=the-oneoff", "simple"]);
    assert!(name.trim().starts_with("execoneoff-simple-run-"), "{name}");
    // exec lands in the one-off container
    let out = w.ok(&p, &["exec", "-T", "simple", "sh", "-c", "echo $WHO"]);
    assert_eq!(out.trim(), "the-oneoff");
    // exec --index rejects a one-off: it is not replica #1
    let err = fails(&w, &p, &["exec", "-T", "--index", "1", "simple", "true"]);
    assert!(err.contains("not running container #1"), "{err}");
    // a paused container is refused with a clear message
    w.ok(&p, &["up", "-d", "another"]);
    w.ok(&p, &["pause", "another"]);
    let err = fails(&w, &p, &["exec", "-T", "another", "true"]);
    assert!(err.contains("is paused"), "{err}");
    w.ok(&p, &["unpause", "another"]);
    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    w.assert_clean();
}

// `exec --privileged` gives the process every capability, whatever the container
// has; a `privileged: true` service starts with every capability too.
#[test]
fn test_exec_privileged() {
    let w = World::new();
    let p = w.project(
        "execpriv",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: sleep infinity
  priv:
    image: IMAGE
    init: true
    privileged: true
    command: sleep infinity
"#,
    );
    w.ok(&p, &["up", "-d"]);
    let caps = |args: &[&str]| {
        let out = w.ok(&p, args);
        out.lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no CapEff in {out}"))
    };
    // Everything berth itself may hold (this test's bounding set; where berth runs
    // without some capability, a privileged process cannot have it either).
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let full = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        caps(&["exec", "-T", "web", "cat", "/proc/self/status"]),
        "00000000a80425fb"
    );
    assert_eq!(
        caps(&[
            "exec",
            "-T",
            "--privileged",
            "web",
            "cat",
            "/proc/self/status"
        ]),
        full
    );
    assert_eq!(
        caps(&["exec", "-T", "priv", "cat", "/proc/self/status"]),
        full
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
