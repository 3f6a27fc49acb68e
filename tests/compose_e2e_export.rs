//! docker compose's `pkg/e2e/export_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image. Where the Go test only checked
//! that the file exists, these also read the archive back, as a user would.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use common::scenario::wait_states;
use common::{fails, World};

const EXPORT: &str = r#"
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

/// Path (without a leading `./`) → content of the regular files in `tar`.
fn files(tar: &Path) -> BTreeMap<String, String> {
    let mut a = tar::Archive::new(std::fs::File::open(tar).unwrap());
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let path = path.trim_start_matches("./").to_string();
        if e.header().entry_type() == tar::EntryType::Regular {
            let mut s = vec![];
            e.read_to_end(&mut s).unwrap();
            out.insert(path, String::from_utf8_lossy(&s).into_owned());
        } else {
            out.insert(path, String::new());
        }
    }
    out
}

// SCENARIOS.md § TestExport (export_test.go): export must write the service
// container's filesystem as a tar archive.
#[test]
fn test_export() {
    let w = World::new();
    let p = w.project("export", EXPORT);
    w.ok(&p, &["up", "-d", "service"]);
    wait_states(&w, &p, 10, &[("export-service-1", "running")]);
    // The container's own changes are in it, a deleted image file is not, and
    // nothing mounted over the root (/proc) leaks in.
    w.ok(
        &p,
        &[
            "exec",
            "-T",
            "service",
            "sh",
            "-c",
            "echo changed > /data/new && rm /data/seed",
        ],
    );
    let out = w.dir.path().join("service.tar");
    w.ok(&p, &["export", "-o", out.to_str().unwrap(), "service"]);
    let f = files(&out);
    assert_eq!(f.get("data/new").map(String::as_str), Some("changed\n"));
    assert!(!f.contains_key("data/seed"), "deleted file exported");
    assert!(f.contains_key("bin/busybox"), "image layer missing");
    assert!(!f.keys().any(|k| k.starts_with("proc/")), "/proc exported");
    // Only the owner reads it, as docker's atomic writer leaves it.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // A service that is not running has nothing to export.
    let err = fails(&w, &p, &["export", "-o", "x.tar", "service-with-replicas"]);
    assert!(err.contains("is not running"), "{err}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestExportWithReplicas (export_test.go): export --index must
// pick the requested replica of a scaled service.
#[test]
fn test_export_with_replicas() {
    let w = World::new();
    let p = w.project("exportrep", EXPORT);
    w.ok(&p, &["up", "-d", "service-with-replicas"]);
    wait_states(
        &w,
        &p,
        10,
        &[
            ("exportrep-service-with-replicas-1", "running"),
            ("exportrep-service-with-replicas-2", "running"),
            ("exportrep-service-with-replicas-3", "running"),
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
    let dir = w.dir.path();
    let (r1, r2) = (dir.join("r1.tar"), dir.join("r2.tar"));
    w.ok(
        &p,
        &[
            "export",
            "-o",
            r1.to_str().unwrap(),
            "--index=1",
            "service-with-replicas",
        ],
    );
    w.ok(
        &p,
        &[
            "export",
            "-o",
            r2.to_str().unwrap(),
            "--index=2",
            "service-with-replicas",
        ],
    );
    assert_eq!(files(&r1)["data/replica"], "1\n");
    assert_eq!(files(&r2)["data/replica"], "2\n");
    let err = fails(
        &w,
        &p,
        &[
            "export",
            "-o",
            "x.tar",
            "--index=4",
            "service-with-replicas",
        ],
    );
    assert!(err.contains("is not running container #4"), "{err}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
