//! docker compose's `pkg/e2e/env_file_test.go` scenarios, run against berth.
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

use common::scenario::{last_line, run};
use common::World;
use std::fs;

// SCENARIOS.md § TestRunEnvFile (env_file_test.go): run must resolve the service's
// env_file relative to the project directory.
#[test]
fn test_run_env_file() {
    let w = World::new();
    let p = w.project(
        "runenvfile",
        r#"
services:
  serviceC:
    profiles: ["test"]
    image: IMAGE
    env_file: test.env
"#,
    );
    fs::write(p.join("test.env"), "FOO=BAR\n").unwrap();
    // the one-off sees the env_file's variables (run from another directory:
    // the file is found next to compose.yaml)
    let file = p.join("compose.yaml");
    let out = w.ok(
        w.dir.path(),
        &[
            "-f",
            file.to_str().unwrap(),
            "--profile",
            "test",
            "run",
            "--rm",
            "serviceC",
            "sh",
            "-c",
            "echo $FOO",
        ],
    );
    assert_eq!(last_line(&out), "BAR");
    w.ok(
        w.dir.path(),
        &["-f", file.to_str().unwrap(), "--profile", "test", "down"],
    );
    w.assert_clean();
}

// TestRawEnvFile (env_file_test.go): an env_file in raw format must reach the
// container without interpolation.
#[test]
fn test_raw_env_file() {
    let w = World::new();
    let p = w.project(
        "rawenvfile",
        r#"
services:
  test:
    image: IMAGE
    command: sh -c "echo $$TEST_VAR"
    env_file:
      - path: .env.raw
        format: raw # parse without interpolation
"#,
    );
    fs::write(p.join(".env.raw"), "TEST_VAR='{\"key\": \"value\"}'\n").unwrap();
    // the service prints the raw value, quotes included
    let out = w.ok(&p, &["run", "--rm", "test"]);
    assert!(out.contains(r#"'{"key": "value"}'"#), "{out}");
    w.ok(&p, &["down"]);
    w.assert_clean();
}

// TestUnusedMissingEnvFile (env_file_test.go): a missing env_file fails only the
// commands that need that service's environment. docker compose's last step
// (shell completion listing the services) has no berth counterpart.
#[test]
fn test_unused_missing_env_file() {
    let w = World::new();
    let p = w.project(
        "unused_dotenv",
        r#"
services:
  serviceA:
    image: IMAGE
    command: ["sleep", "infinity"]
    init: true

  serviceB:
    image: IMAGE
    command: ["sleep", "infinity"]
    init: true
    env_file:
      - /doesnotexist/.env

  serviceC:
    profiles: ["test"]
    image: IMAGE
    env_file: test.env
"#,
    );
    w.ok(&p, &["up", "-d", "serviceA"]);
    // runtime operations work even with the missing env file
    w.ok(&p, &["ps"]);
    w.ok(&p, &["logs"]);
    let out = w.ok(&p, &["exec", "serviceA", "echo", "hello"]);
    assert_eq!(last_line(&out), "hello");
    // scale works on a service that does not reference the missing file
    w.ok(&p, &["scale", "serviceA=2"]);
    // but scaling the service with the missing env file fails
    let (code, _, err) = run(&w, &p, &["scale", "serviceB=1"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("env file /doesnotexist/.env not found"),
        "{err}"
    );
    // config --hash works for services not referencing the missing env file
    w.ok(&p, &["config", "--hash", "serviceA"]);
    // but hashing the service with the missing env file fails, as up would
    let (code, _, err) = run(&w, &p, &["config", "--hash", "serviceB"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("env file /doesnotexist/.env not found"),
        "{err}"
    );
    // unless env_file resolution is explicitly disabled
    w.ok(&p, &["config", "--no-env-resolution", "--hash", "serviceB"]);
    // and so does the wildcard, as it includes serviceB
    let (code, _, err) = run(&w, &p, &["config", "--hash", "*"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("env file /doesnotexist/.env not found"),
        "{err}"
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
