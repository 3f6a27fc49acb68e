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

use common::scenario::last_line;
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
