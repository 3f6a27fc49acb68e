//! docker compose's `pkg/e2e/ps_test.go` scenario on `psFormat`, run against
//! berth, and berth's own checks of `ps --format` Go templates.
//!
//! `test_*` named after a Go test is that test (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use common::scenario::{combined, wait_states};
use common::{fails, World};

const APP: &str = r#"
services:
  app:
    image: IMAGE
    init: true
    command: sleep infinity
"#;

// SCENARIOS.md § TestPsHonorsPsFormat (ps_test.go): compose ps must apply
// psFormat from Docker CLI config when no --format flag is given.
#[test]
fn test_ps_honors_ps_format() {
    let w = World::new();
    let p = w.project("psformat", APP);
    let cfg = w.dir.path().join("docker-config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("config.json"), r#"{"psFormat":"table {{.Name}}"}"#).unwrap();
    let cfg = cfg.to_str().unwrap();
    w.ok(&p, &["up", "-d"]);
    wait_states(&w, &p, 10, &[("psformat-app-1", "running")]);
    let out = w.berth_env(&p, &["ps"], &[("DOCKER_CONFIG", cfg)]);
    assert!(out.status.success(), "{}", combined(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NAME"), "{text}");
    assert!(!text.contains("IMAGE"), "{text}");
    assert_eq!(text, "NAME\npsformat-app-1\n");
    // --format wins over psFormat.
    let out = w.berth_env(&p, &["ps", "--format", "table"], &[("DOCKER_CONFIG", cfg)]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("IMAGE"));
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// berth's own: the Go templates docker compose users write.
#[test]
fn ps_format_go_templates() {
    let w = World::new();
    let p = w.project("pstmpl", APP);
    w.ok(&p, &["up", "-d"]);
    wait_states(&w, &p, 10, &[("pstmpl-app-1", "running")]);
    let out = w.ok(&p, &["ps", "--format", "{{.Name}} {{.Service}} {{.State}}"]);
    assert_eq!(out, "pstmpl-app-1 app running\n");
    let out = w.ok(&p, &["ps", "--format", "table {{.Service}}\\t{{.Status}}"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "SERVICE   STATUS");
    assert!(lines[1].starts_with("app       Up"), "{out}");
    let out = w.ok(&p, &["ps", "--format", "{{json .}}"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["Name"], "pstmpl-app-1");
    let out = w.ok(&p, &["ps", "--format", "{{.Service | upper}}"]);
    assert_eq!(out, "APP\n");
    let err = fails(&w, &p, &["ps", "--format", "{{.Nope}}"]);
    assert!(err.contains("Nope"), "{err}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
