//! docker compose's `pkg/e2e/ps_test.go` scenarios, run against berth.
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

use common::scenario::run;
use common::{free_port, World};
use serde_json::{json, Value};

// SCENARIOS.md § TestPs (ps_test.go): ps lists the project's containers with
// their ports, as a table and as JSON, the stopped ones only with --all, and
// refuses an unknown service. nginx's exposed ports are declared by `expose`
// here (the busybox image exposes none); the host port is a free one.
#[test]
fn test_ps() {
    let w = World::new();
    let port = free_port();
    let p = w.project(
        "e2e-ps",
        &r#"
services:
  nginx:
    image: IMAGE
    init: true
    command: sleep infinity
    expose:
    - '80'
    - '443'
    - '8080'
  busybox:
    image: IMAGE
    init: true
    command: busybox httpd -f -p 8000
    ports:
    - '127.0.0.1:PORT:8000'
"#
        .replace("PORT", &port.to_string()),
    );
    let (code, out, err) = run(&w, &p, &["up", "-d"]);
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("Container e2e-ps-busybox-1 Started"), "{all}");

    // table
    let out = w.ok(&p, &["ps"]);
    let lines: Vec<&str> = out.split('\n').collect();
    assert_eq!(lines.len(), 4, "{out}");
    let mut count = 0;
    for line in &lines[1..3] {
        if line.contains("e2e-ps-busybox-1") {
            assert!(
                line.contains(&format!("127.0.0.1:{port}->8000/tcp")),
                "{line}"
            );
            count += 1;
        }
        if line.contains("e2e-ps-nginx-1") {
            assert!(line.contains("80/tcp, 443/tcp, 8080/tcp"), "{line}");
            count += 1;
        }
    }
    assert_eq!(count, 2, "did not match both services:\n{out}");

    // json
    let out = w.ok(&p, &["ps", "--format", "json"]);
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    let publishers = |v: &Value| -> Vec<Value> {
        v["Publishers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                json!({
                    "URL": p["URL"],
                    "TargetPort": p["TargetPort"],
                    "PublishedPort": p["PublishedPort"],
                    "Protocol": p["Protocol"],
                })
            })
            .collect()
    };
    let mut count = 0;
    for row in &rows {
        assert_eq!(row["Project"], "e2e-ps", "{row}");
        if row["Name"] == "e2e-ps-busybox-1" {
            assert_eq!(
                publishers(row),
                [
                    json!({"URL": "127.0.0.1", "TargetPort": 8000, "PublishedPort": port, "Protocol": "tcp"})
                ],
                "{row}"
            );
            count += 1;
        }
        if row["Name"] == "e2e-ps-nginx-1" {
            let none =
                |t: u16| json!({"URL": "", "TargetPort": t, "PublishedPort": 0, "Protocol": "tcp"});
            assert_eq!(publishers(row), [none(80), none(443), none(8080)], "{row}");
            count += 1;
        }
    }
    assert_eq!(count, 2, "did not match both services:\n{out}");

    // ps --all
    w.ok(&p, &["stop", "-t", "0"]);
    let out = w.ok(&p, &["ps"]);
    assert_eq!(out.split('\n').count(), 2, "{out}");
    let out = w.ok(&p, &["ps", "--all"]);
    assert_eq!(out.split('\n').count(), 4, "{out}");

    // ps unknown
    w.ok(&p, &["ps", "nginx"]);
    let (code, _, err) = run(&w, &p, &["ps", "unknown"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no such service: unknown"), "{err}");
    w.ok(&p, &["down"]);
    w.assert_clean();
}
