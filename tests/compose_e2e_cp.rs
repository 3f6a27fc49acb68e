//! docker compose's `pkg/e2e/cp_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image; what the Go test read with
//! `docker exec CONTAINER` is read with `exec --index`.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use common::{by_name, World};
use std::fs;

// cp_test.go § TestCopy: cp must target all replicas by default, one replica with
// --index, and copy both ways.
#[test]
fn test_copy() {
    let w = World::new();
    let p = w.project(
        "copytest",
        r#"
services:
  nginx:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    fs::write(p.join("cp-me.txt"), "hello world\n").unwrap();
    fs::create_dir(p.join("cp-folder")).unwrap();
    fs::write(p.join("cp-folder/cp-me.txt"), "hello world from folder\n").unwrap();
    let at = |f: &str| p.join(f).to_str().unwrap().to_string();
    let cat =
        |index: &str, file: &str| w.berth_in(&p, &["exec", "--index", index, "nginx", "cat", file]);
    // up starts five replicas
    w.ok(&p, &["up", "--scale", "nginx=5", "-d"]);
    let ps = by_name(&w, &p);
    assert_eq!(ps.len(), 5, "{ps:?}");
    assert!(ps.values().all(|c| c["State"] == "running"), "{ps:?}");
    // cp to the service reaches every replica by default
    w.ok(&p, &["cp", &at("cp-me.txt"), "nginx:/tmp/default.txt"]);
    // replica #1 got the file, and #3 too
    for i in ["1", "3"] {
        let out = cat(i, "/tmp/default.txt");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("hello world"),
            "replica {i}: {out:?}"
        );
    }
    // cp --index targets a single replica
    w.ok(
        &p,
        &[
            "cp",
            "--index=3",
            &at("cp-me.txt"),
            "nginx:/tmp/indexed.txt",
        ],
    );
    // the indexed replica got the file
    let out = cat("3", "/tmp/indexed.txt");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hello world"),
        "{out:?}"
    );
    // the other replicas did not
    assert_eq!(cat("2", "/tmp/indexed.txt").status.code(), Some(1));
    // cp from the service reads from replica #1 by default
    w.ok(
        &p,
        &["cp", "nginx:/tmp/default.txt", &at("from-default.txt")],
    );
    assert!(fs::read_to_string(p.join("from-default.txt"))
        .unwrap()
        .contains("hello world"));
    // cp --index reads from the chosen replica
    w.ok(
        &p,
        &[
            "cp",
            "--index=3",
            "nginx:/tmp/indexed.txt",
            &at("from-indexed.txt"),
        ],
    );
    assert!(fs::read_to_string(p.join("from-indexed.txt"))
        .unwrap()
        .contains("hello world"));
    // cp copies a folder into the container
    w.ok(&p, &["cp", &at("cp-folder"), "nginx:/tmp"]);
    // the folder's content is in the container
    let out = cat("1", "/tmp/cp-folder/cp-me.txt");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hello world from folder"),
        "{out:?}"
    );
    // cp copies a folder out of the container
    w.ok(&p, &["cp", "nginx:/tmp/cp-folder", &at("cp-folder2")]);
    assert!(fs::read_to_string(p.join("cp-folder2/cp-me.txt"))
        .unwrap()
        .contains("hello world from folder"));
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
