//! docker compose's `pkg/e2e/config_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use common::scenario::run;
use common::World;

// SCENARIOS.md § TestLocalComposeConfig (config_test.go): config must render the
// resolved model in the requested format, interpolated or not.
#[test]
fn test_local_compose_config() {
    let w = World::new();
    let p = w.project(
        "localconfig",
        r#"
services:
  test:
    image: test
    ports:
      - ${PORT:-8080}:80
"#,
    );
    // the yaml rendering expands the port shorthand
    let out = w.ok(&p, &["config"]);
    assert!(
        out.contains(
            "
    ports:
      - mode: ingress
        target: 80
        published: \"8080\"
        protocol: tcp"
        ),
        "{out}"
    );
    // the json rendering carries the same resolution
    let out = w.ok(&p, &["config", "--format", "json"]);
    assert!(out.contains(r#""published": "8080""#), "{out}");
    // --no-interpolate keeps the variable expression
    let out = w.ok(&p, &["config", "--no-interpolate"]);
    assert!(out.contains("- ${PORT:-8080}:80"), "{out}");
    // --no-interpolate warns that service selection is ignored
    let (code, out, err) = run(&w, &p, &["config", "--no-interpolate", "test"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        format!("{out}{err}")
            .contains("service filtering is not applied when --no-interpolate is set"),
        "{out}{err}"
    );
    assert!(out.contains("- ${PORT:-8080}:80"), "{out}");
    // --variables renders the model's variables as json
    let out = w.ok(&p, &["config", "--variables", "--format", "json"]);
    assert!(
        out.contains(
            r#"{
    "PORT": {
        "Name": "PORT",
        "DefaultValue": "8080",
        "PresenceValue": "",
        "Required": false
    }
}"#
        ),
        "{out}"
    );
    // --variables renders the model's variables as yaml
    let out = w.ok(&p, &["config", "--variables", "--format", "yaml"]);
    assert!(
        out.contains(
            r#"PORT:
    name: PORT
    defaultvalue: "8080"
    presencevalue: ""
    required: false"#
        ),
        "{out}"
    );
    // --variables warns that service selection is ignored
    let (code, out, err) = run(&w, &p, &["config", "--variables", "test"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        format!("{out}{err}").contains("service filtering is not applied when --variables is set"),
        "{out}{err}"
    );
    assert!(out.contains("PORT"), "{out}");
}

// TestConfigHashMatchesContainerLabel (config_test.go): `config --hash` prints
// the hash `up` put on each container's `com.docker.compose.config-hash` label,
// env_file (present or optional and missing) included.
#[test]
fn test_config_hash_matches_container_label() {
    let w = World::new();
    let p = w.project(
        "confighash",
        r#"
services:
  with-env-file:
    image: IMAGE
    command: ["sleep", "infinity"]
    init: true
    env_file:
      - app.env

  optional-env:
    image: IMAGE
    command: ["sleep", "infinity"]
    init: true
    env_file:
      - path: missing-optional.env
        required: false

  plain:
    image: IMAGE
    command: ["sleep", "infinity"]
    init: true
"#,
    );
    std::fs::write(p.join("app.env"), "EXAMPLE=value\n").unwrap();
    let project = "compose-e2e-config-hash";
    w.ok(&p, &["-p", project, "up", "-d", "--force-recreate"]);
    let containers: std::collections::BTreeMap<String, serde_json::Value> = w
        .ok(&p, &["-p", project, "ps", "-a", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|c| (c["Name"].as_str().unwrap().to_string(), c))
        .collect();
    let label = |service: &str| -> String {
        let c = &containers[&format!("{project}-{service}-1")];
        c["Labels"]
            .as_str()
            .unwrap()
            .split(',')
            .find_map(|kv| kv.strip_prefix("com.docker.compose.config-hash="))
            .unwrap_or_else(|| panic!("no config-hash label on {service}: {c}"))
            .to_string()
    };
    for service in ["with-env-file", "optional-env", "plain"] {
        let out = w.ok(&p, &["-p", project, "config", "--hash", service]);
        let fields: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(fields.len(), 2, "{out}");
        assert_eq!(
            fields[1],
            label(service),
            "config --hash {service} must match the container config-hash label"
        );
    }
    let out = w.ok(&p, &["-p", project, "config", "--hash", "*"]);
    assert_eq!(
        out.trim(),
        format!(
            "optional-env {}\nplain {}\nwith-env-file {}",
            label("optional-env"),
            label("plain"),
            label("with-env-file")
        )
    );
    w.ok(&p, &["-p", project, "down", "-t", "0"]);
    w.assert_clean();
}
