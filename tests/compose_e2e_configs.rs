//! docker compose's `pkg/e2e/configs_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use common::World;

// TestConfigFromEnv (configs_test.go): each config source — file, environment,
// inline content — must mount with the right content.
#[test]
fn test_config_from_env() {
    let w = World::new();
    let p = w.project(
        "configfromenv",
        r#"
services:
  from_env:
    image: IMAGE
    configs:
      - source: from_env
    command: cat /from_env

  from_file:
    image: IMAGE
    configs:
      - source: from_file
    command: cat /from_file

  inlined:
    image: IMAGE
    configs:
      - source: inlined
    command: cat /inlined

  target:
    image: IMAGE
    configs:
      - source: inlined
        target: /target
    command: cat /target

configs:
  from_env:
    environment: CONFIG
  from_file:
    file: config.txt
  inlined:
    content: This is my $CONFIG
"#,
    );
    std::fs::write(p.join("config.txt"), "This is my config file\n").unwrap();
    let run = |service: &str| -> String {
        let out = w.berth_env(&p, &["run", "--rm", service], &[("CONFIG", "config")]);
        assert!(
            out.status.success(),
            "run {service}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // a file-sourced config mounts its file's content
    assert!(run("from_file").contains("This is my config file"));
    // an environment-sourced config mounts the variable's value
    assert!(run("from_env").contains("config"));
    // an inline config mounts its interpolated content
    assert!(run("inlined").contains("This is my config"));
    // a custom target mounts the config at the requested path
    assert!(run("target").contains("This is my config"));
    w.ok(&p, &["down"]);
    w.assert_clean();
}
