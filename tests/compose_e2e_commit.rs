//! docker compose's `pkg/e2e/commit_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image. Where the Go test only checked
//! that the image exists, these also run it, as a user would.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use common::scenario::wait_states;
use common::{fails, World};
use serde_json::Value;

const COMMIT: &str = r#"
services:
  service:
    image: IMAGE
    init: true
    command: sleep infinity
  service-with-replicas:
    image: IMAGE
    init: true
    command: sleep infinity
    deploy:
      replicas: 3
"#;

fn inspect(w: &World, p: &std::path::Path, image: &str) -> Value {
    let out = w.ok(p, &["image", "inspect", image]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v[0].clone()
}

// SCENARIOS.md § TestCommit (commit_test.go): commit must produce an image from
// the service's container.
#[test]
fn test_commit() {
    let w = World::new();
    let p = w.project("commit", COMMIT);
    let image = "commit:latest";
    w.ok(&p, &["up", "-d", "service"]);
    wait_states(&w, &p, 10, &[("commit-service-1", "running")]);
    w.ok(
        &p,
        &[
            "exec",
            "-T",
            "service",
            "sh",
            "-c",
            "echo committed > /data/new && rm /data/seed",
        ],
    );
    w.ok(
        &p,
        &[
            "commit",
            "-a",
            "John Hannibal Smith <hannibal@a-team.com>",
            "-c",
            "ENV DEBUG=true",
            "-m",
            "sample commit",
            "service",
            image,
        ],
    );
    let img = inspect(&w, &p, image);
    let env = img["Config"]["Env"].to_string();
    assert!(env.contains("DEBUG=true"), "{img}");
    assert_eq!(img["Author"], "John Hannibal Smith <hannibal@a-team.com>");
    // The commit froze the container only while it read its files.
    wait_states(&w, &p, 10, &[("commit-service-1", "running")]);
    // The new image runs with the container's changes: the new file, without the
    // deleted one, and the --change's variable.
    let run = w.project(
        "commitrun",
        &format!(
            "services:\n  check:\n    image: {image}\n    command: sh -c 'cat /data/new; ls /data; echo DEBUG=$$DEBUG'\n"
        ),
    );
    let out = w.ok(&run, &["run", "--rm", "-T", "check"]);
    assert!(out.contains("committed"), "{out}");
    assert!(!out.contains("seed"), "{out}");
    assert!(out.contains("DEBUG=true"), "{out}");
    // A change a commit cannot take is refused before anything is made.
    let err = fails(&w, &p, &["commit", "-c", "RUN true", "service", "bad:1"]);
    assert!(err.contains("not a valid change command"), "{err}");
    w.ok(&run, &["down", "-t", "0"]);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestCommitWithReplicas (commit_test.go): commit --index must
// pick the requested replica of a scaled service.
#[test]
fn test_commit_with_replicas() {
    let w = World::new();
    let p = w.project("commitrep", COMMIT);
    w.ok(&p, &["up", "-d", "service-with-replicas"]);
    wait_states(
        &w,
        &p,
        10,
        &[
            ("commitrep-service-with-replicas-1", "running"),
            ("commitrep-service-with-replicas-2", "running"),
            ("commitrep-service-with-replicas-3", "running"),
        ],
    );
    for i in 1..=3 {
        w.ok(
            &p,
            &[
                "exec",
                "-T",
                "--index",
                &i.to_string(),
                "service-with-replicas",
                "sh",
                "-c",
                &format!("echo {i} > /data/replica"),
            ],
        );
    }
    for i in 1..=2 {
        let image = format!("commitrep:{i}");
        w.ok(
            &p,
            &[
                "commit",
                "-m",
                "sample commit",
                &format!("--index={i}"),
                "service-with-replicas",
                &image,
            ],
        );
        let run = w.project(
            &format!("commitrep{i}"),
            &format!("services:\n  check:\n    image: {image}\n    command: cat /data/replica\n"),
        );
        let out = w.ok(&run, &["run", "--rm", "-T", "check"]);
        assert_eq!(out.trim(), i.to_string());
        w.ok(&run, &["down", "-t", "0"]);
    }
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
