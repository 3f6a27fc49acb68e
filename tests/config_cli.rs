//! `berth config` as a user runs it, on the docker/compose e2e fixtures,
//! checked against the scenarios' expected output.

mod shared_fixtures;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> Option<PathBuf> {
    e2e_dir("testdata", name)
}

fn e2e_dir(kind: &str, name: &str) -> Option<PathBuf> {
    shared_fixtures::conformance(&format!("docker+compose/pkg/e2e/{kind}/{name}"))
}

fn berth(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(dir)
        .env_remove("COMPOSE_PROJECT_NAME")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn config_resolves_context_and_names_default_network() {
    let Some(dir) = fixture("TestConfig") else {
        return;
    };
    let out = stdout(&berth(&dir, &["-p", "e2e", "config"]));
    let expected = format!(
        "name: e2e\nservices:\n  nginx:\n    build:\n      context: {}\n      dockerfile: Dockerfile\n    networks:\n      default: null\nnetworks:\n  default:\n    name: e2e_default\n",
        dir.join("nginx-build").display()
    );
    assert_eq!(out, expected);
}

#[test]
fn config_no_interpolate_keeps_expressions_and_resolves_paths() {
    let Some(dir) = fixture("TestConfigInterpolate") else {
        return;
    };
    let out = stdout(&berth(&dir, &["-p", "e2e", "config", "--no-interpolate"]));
    assert!(
        out.starts_with("name: e2e\nnetworks:\n  default:\n    name: e2e_default\nservices:\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "      context: {}\n",
            dir.join("nginx-build").display()
        )),
        "{out}"
    );
}

#[test]
fn config_no_consistency_lists_resources() {
    let Some(dir) = fixture("TestLocalComposeConfigNoConsistency") else {
        return;
    };
    let strict = berth(&dir, &["-p", "e2e", "config"]);
    assert!(!strict.status.success());
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(err.contains("invalid compose project"), "{err}");
    let nc = |extra: &[&str]| {
        let mut args = vec!["-p", "e2e"];
        args.extend_from_slice(extra);
        stdout(&berth(&dir, &args))
    };
    assert_eq!(
        nc(&["config", "--no-consistency", "--services"]),
        "incomplete\n"
    );
    assert_eq!(nc(&["config", "--no-consistency", "--volumes"]), "data\n");
    assert!(nc(&["config", "--no-consistency", "--networks"]).contains("internal\n"));
    assert!(nc(&["config", "--no-consistency", "--models"]).contains("ai/example"));
    assert!(nc(&["config", "--no-consistency", "--hash", "*"]).starts_with("incomplete "));
    assert!(nc(&[
        "--profile",
        "extra",
        "config",
        "--no-consistency",
        "--services"
    ])
    .contains("gated\n"));
}

#[test]
fn config_quiet_and_output_file() {
    let Some(dir) = fixture("TestConfig") else {
        return;
    };
    assert_eq!(stdout(&berth(&dir, &["-p", "e2e", "config", "-q"])), "");
    let target = std::env::temp_dir().join(format!("berth-config-{}.yaml", std::process::id()));
    let t = target.display().to_string();
    assert_eq!(stdout(&berth(&dir, &["-p", "e2e", "config", "-o", &t])), "");
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(written.starts_with("name: e2e\n"));
    std::fs::remove_file(target).unwrap();
    let json = stdout(&berth(&dir, &["-p", "e2e", "config", "--format", "json"]));
    assert!(
        json.starts_with("{\n  \"name\": \"e2e\",\n  \"networks\": {"),
        "{json}"
    );
    let bad = berth(&dir, &["-p", "e2e", "config", "--format", "toml"]);
    assert!(!bad.status.success());
}

#[test]
fn config_hash_lists_sorted_services() {
    let Some(dir) = e2e_dir("fixtures", "config_hash") else {
        return;
    };
    let out = stdout(&berth(
        &dir,
        &["-p", "compose-e2e-config-hash", "config", "--hash", "*"],
    ));
    let names: Vec<&str> = out.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(names, vec!["optional-env", "plain", "with-env-file"]);
    // sha256 of {"command":["sleep","infinity"],"entrypoint":null,"image":"alpine","networks":{"default":null}}
    assert!(
        out.contains("plain 63e2493f0925a832dea0ea442b62298560bbeac6edf294e098a22a6ca2bf9dec\n"),
        "{out}"
    );
    let one = stdout(&berth(
        &dir,
        &["-p", "compose-e2e-config-hash", "config", "--hash", "plain"],
    ));
    assert_eq!(one.split_whitespace().count(), 2);
    let resolved = stdout(&berth(&dir, &["-p", "compose-e2e-config-hash", "config"]));
    assert!(
        resolved.contains("    environment:\n      EXAMPLE: value\n"),
        "{resolved}"
    );
    assert!(!resolved.contains("env_file"), "{resolved}");
}

/// `config --no-normalize` prints the model as compose-go's loader leaves it:
/// env and label files read into `environment` and `labels`, and still listed,
/// their paths resolved unless `--no-path-resolution` (compose-go's loader
/// example files, read in place).
#[test]
fn config_no_normalize_keeps_env_and_label_files() {
    let Some(loader) = shared_fixtures::conformance("compose-spec+compose-go/loader") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "example1.env",
        "example2.env",
        "example1.label",
        "example2.label",
    ] {
        std::fs::copy(loader.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  foo:\n    image: busybox\n    env_file:\n      - ./example1.env\n      - path: ./example2.env\n        required: false\n    label_file:\n      - ./example1.label\n      - ./example2.label\n    environment:\n      BAZ: baz_from_service_def\n    labels:\n      BAZ: baz_from_service_def\n",
    )
    .unwrap();
    let d = dir.path().canonicalize().unwrap();
    let expected = |prefix: &str| {
        format!(
            "name: p\nservices:\n  foo:\n    environment:\n      BAR: bar_from_env_file_2\n      BAZ: baz_from_service_def\n      ENV.WITH.DOT: ok\n      ENV_WITH_UNDERSCORE: ok\n      FOO: foo_from_env_file\n      QUX: quz_from_env_file_2\n    env_file:\n      - path: {prefix}/example1.env\n      - path: {prefix}/example2.env\n        required: false\n    image: busybox\n    labels:\n      BAR: bar_from_label_file_2\n      BAZ: baz_from_service_def\n      FOO: foo_from_label_file\n      LABEL.WITH.DOT: ok\n      LABEL_WITH_UNDERSCORE: ok\n      QUX: quz_from_label_file_2\n    label_file:\n      - {prefix}/example1.label\n      - {prefix}/example2.label\n"
        )
    };
    let out = stdout(&berth(&d, &["-p", "p", "config", "--no-normalize"]));
    assert_eq!(out, expected(d.to_str().unwrap()));
    // From elsewhere, paths left as written are still read from the project.
    let out = stdout(&berth(
        Path::new("/"),
        &[
            "-p",
            "p",
            "--project-directory",
            d.to_str().unwrap(),
            "config",
            "--no-normalize",
            "--no-path-resolution",
        ],
    ));
    assert_eq!(out, expected("."));
    // Normalized, the files are folded in and dropped, as docker compose prints it.
    let out = stdout(&berth(&d, &["-p", "p", "config"]));
    assert!(
        !out.contains("env_file:") && !out.contains("label_file:"),
        "{out}"
    );
    assert!(out.contains("FOO: foo_from_env_file"), "{out}");
}
