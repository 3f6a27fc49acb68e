//! docker compose's `pkg/e2e/compose_environment_test.go` scenarios, run against
//! berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image: the probe images are built
//! `FROM` it. Which source won is what the container prints, as in the Go tests.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use common::scenario::combined;
use common::{World, IMAGE};
use std::fs;
use std::path::{Path, PathBuf};

/// The image every env-priority project builds: its ENV says "Dockerfile". (The
/// Go fixture's `printenv WHEREAMI`; busybox-static has no `printenv`.)
const PRIORITY_DOCKERFILE: &str =
    "FROM IMAGE\nENV  WHEREAMI=Dockerfile\nCMD [\"sh\", \"-c\", \"echo \\\"$WHEREAMI\\\"\"]\n";

/// A project with `compose` as its compose.yaml and `files` beside it, both as
/// written (their `IMAGE` is a variable): only a Dockerfile's `FROM IMAGE` names
/// the test image.
fn project(w: &World, name: &str, compose: &str, files: &[(&str, &str)]) -> PathBuf {
    let p = w.project(name, "");
    fs::write(p.join("compose.yaml"), compose).unwrap();
    for (f, text) in files {
        let text = match *f {
            "Dockerfile" => text.replace("FROM IMAGE", &format!("FROM {IMAGE}")),
            _ => text.to_string(),
        };
        fs::write(p.join(f), text).unwrap();
    }
    p
}

/// stdout of a berth run that must succeed, with extra environment.
fn stdout_env(w: &World, p: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = w.berth_env(p, args, env);
    assert!(out.status.success(), "berth {args:?}:\n{}", combined(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The env files of the env-priority fixtures.
const ENV_FILES: &[(&str, &str)] = &[
    ("Dockerfile", PRIORITY_DOCKERFILE),
    (".env", "WHEREAMI=Env File\n"),
    (".env.override", "WHEREAMI=override\n"),
];

// compose_environment_test.go § TestEnvPriorityComposeEnvironment: the caller's
// environment must beat the compose file's environment section.
#[test]
fn test_env_priority_compose_environment() {
    let w = World::new();
    let p = project(
        &w,
        "envcomposeenv",
        r#"
services:
  env-compose-priority:
    build:
      context: .
    environment:
      WHEREAMI: "Compose File"
"#,
        ENV_FILES,
    );
    let over = p.join(".env.override");
    let over = over.to_str().unwrap();
    // run -e with the variable set in the shell wins over the environment section
    let out = stdout_env(
        &w,
        &p,
        &[
            "--env-file",
            over,
            "run",
            "--rm",
            "-e",
            "WHEREAMI",
            "env-compose-priority",
        ],
        &[("WHEREAMI", "shell")],
    );
    assert_eq!(out.trim(), "shell");
    // run -e with an explicit value wins over the environment section
    let out = w.ok(
        &p,
        &[
            "--env-file",
            over,
            "run",
            "--rm",
            "-e",
            "WHEREAMI=shell",
            "env-compose-priority",
        ],
    );
    assert_eq!(out.trim(), "shell");
    // and without -e the environment section applies
    let out = w.ok(&p, &["run", "--rm", "env-compose-priority"]);
    assert_eq!(out.trim(), "Compose File");
    w.ok(&p, &["down", "--rmi", "local"]);
    w.assert_clean();
}

// compose_environment_test.go § TestEnvPriority: without an environment section,
// run -e must resolve shell, env-file then image, in that order.
#[test]
fn test_env_priority() {
    let w = World::new();
    let mut files = ENV_FILES.to_vec();
    files.push((".env.empty", ""));
    files.push((
        ".env.override.with.default",
        "WHEREAMI=${WHEREAMI:-EnvFileDefaultValue}\n",
    ));
    let p = project(
        &w,
        "envpriority",
        "services:\n  env-compose-priority:\n    build:\n      context: .\n",
        &files,
    );
    let file = |f: &str| p.join(f).to_str().unwrap().to_string();
    let (over, with_default, empty) = (
        file(".env.override"),
        file(".env.override.with.default"),
        file(".env.empty"),
    );
    let probe = |env_file: Option<&str>, e: &str, env: &[(&str, &str)]| {
        let mut args = vec![];
        if let Some(f) = env_file {
            args.extend(["--env-file", f]);
        }
        args.extend(["run", "--rm", "-e", e, "env-compose-priority"]);
        stdout_env(&w, &p, &args, env).trim().to_string()
    };
    // the shell's value wins over an override env file
    assert_eq!(
        probe(Some(&over), "WHEREAMI", &[("WHEREAMI", "shell")]),
        "shell"
    );
    // the shell's value wins over an env file defaulting the same variable
    assert_eq!(
        probe(Some(&with_default), "WHEREAMI", &[("WHEREAMI", "shell")]),
        "shell"
    );
    // with no shell value, the env file's default value applies
    assert_eq!(
        probe(Some(&with_default), "WHEREAMI", &[]),
        "EnvFileDefaultValue"
    );
    // COMPOSE_ENV_FILES designates the env file like --env-file would
    assert_eq!(
        probe(None, "WHEREAMI", &[("COMPOSE_ENV_FILES", &with_default)]),
        "EnvFileDefaultValue"
    );
    // an explicit run -e value beats every file
    assert_eq!(probe(Some(&over), "WHEREAMI=shell-run", &[]), "shell-run");
    // an override env file beats the project's .env
    assert_eq!(probe(Some(&over), "WHEREAMI", &[]), "override");
    // without flags the project's .env applies
    assert_eq!(probe(None, "WHEREAMI", &[]), "Env File");
    // with an empty env file the image's ENV survives
    assert_eq!(probe(Some(&empty), "WHEREAMI", &[]), "Dockerfile");
    w.ok(&p, &["down", "--rmi", "local"]);
    w.assert_clean();
}

// compose_environment_test.go § TestEnvPriorityComposeEnvFile: the project's .env
// must feed run -e even when the service declares its own env_file.
#[test]
fn test_env_priority_compose_env_file() {
    let w = World::new();
    let p = project(
        &w,
        "envcomposeenvfile",
        r#"
services:
  env-compose-priority:
    build:
      context: .
    env_file:
      - .env.override
"#,
        ENV_FILES,
    );
    // run -e forwards the .env value, not the service env_file's
    let out = w.ok(
        &p,
        &["run", "--rm", "-e", "WHEREAMI", "env-compose-priority"],
    );
    assert_eq!(out.trim(), "Env File");
    // without -e the service's env_file applies
    let out = w.ok(&p, &["run", "--rm", "env-compose-priority"]);
    assert_eq!(out.trim(), "override");
    w.ok(&p, &["down", "--rmi", "local"]);
    w.assert_clean();
}

/// The interpolation fixture: the image name travels through `.env`.
const INTERPOLATION: &str = r#"
services:
  env-interpolation:
    image: bash
    environment:
      IMAGE: ${IMAGE}
    command: echo "$IMAGE"
"#;

// compose_environment_test.go § TestEnvInterpolation: a shell variable must win
// over the .env when interpolating the model.
#[test]
fn test_env_interpolation() {
    let w = World::new();
    let p = project(
        &w,
        "envinterp",
        INTERPOLATION,
        &[(".env", "WHEREAMI=EnvFile\nIMAGE=default_env:${WHEREAMI}\n")],
    );
    // config interpolates the image from the shell's value
    let out = stdout_env(&w, &p, &["config"], &[("WHEREAMI", "shell")]);
    assert!(out.contains("IMAGE: default_env:shell"), "{out}");
    // without the shell's value, the .env's own
    let out = w.ok(&p, &["config"]);
    assert!(out.contains("IMAGE: default_env:EnvFile"), "{out}");
}

// compose_environment_test.go § TestEnvInterpolationDefaultValue: an unset
// variable must fall back to the .env default when interpolating the model.
#[test]
fn test_env_interpolation_default_value() {
    let w = World::new();
    let p = project(
        &w,
        "envinterpdefault",
        INTERPOLATION,
        &[(
            ".env",
            "IMAGE=default_env:${WHEREAMI:-EnvFileDefaultValue}\n",
        )],
    );
    // config interpolates the image from the default value
    let out = w.ok(&p, &["config"]);
    assert!(
        out.contains("IMAGE: default_env:EnvFileDefaultValue"),
        "{out}"
    );
}

// compose_environment_test.go § TestCommentsInEnvFile: an unquoted ` #` starts a
// comment in .env, a quoted # does not (compose-go cuts unquoted values at " #",
// so `1234#5` keeps its `#5`, which is what the Go test's substring allows).
#[test]
fn test_comments_in_env_file() {
    let w = World::new();
    let p = project(
        &w,
        "envcomments",
        "services:\n  env-file-comments:\n    build:\n      context: .\n",
        &[
            (
                "Dockerfile",
                "FROM IMAGE\nENV  COMMENT=Dockerfile\nENV  NO_COMMENT=Dockerfile\nENV  SPACED=Dockerfile\nCMD [\"sh\", \"-c\", \"env\", \"|\", \"grep\", \"COMMENT\"]\n",
            ),
            (
                ".env",
                "COMMENT=1234#5\nNO_COMMENT=\"1234#5\"\nSPACED=1234 # a comment\n",
            ),
        ],
    );
    // build the probe image
    w.ok(&p, &["build"]);
    // the comment is stripped unless quoted
    let out = w.ok(
        &p,
        &[
            "run",
            "--rm",
            "-e",
            "COMMENT",
            "-e",
            "NO_COMMENT",
            "-e",
            "SPACED",
            "env-file-comments",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"COMMENT=1234#5"), "{out}");
    assert!(lines.contains(&"NO_COMMENT=1234#5"), "{out}");
    assert!(lines.contains(&"SPACED=1234"), "{out}");
    w.ok(&p, &["down", "--rmi", "local"]);
    w.assert_clean();
}

// compose_environment_test.go § TestUnsetEnv: an environment passthrough must
// propagate the caller's value, or unset the image's ENV.
#[test]
fn test_unset_env() {
    let w = World::new();
    let p = project(
        &w,
        "envunset",
        r#"
services:
  empty-variable:
    build:
      context: .
    environment:
      - EMPTY # expect to propagate value from user's env OR unset in container
"#,
        &[(
            "Dockerfile",
            "FROM IMAGE\nENV  EMPTY=not_empty\nCMD [\"sh\", \"-c\", \"echo \\\"=$EMPTY=\\\"\"]\n",
        )],
    );
    // build the probe image
    w.ok(&p, &["build"]);
    // run -e overrides the image's ENV
    let out = w.ok(&p, &["run", "-e", "EMPTY=hello", "--rm", "empty-variable"]);
    assert_eq!(out.trim(), "=hello=");
    // without a caller value the passthrough unsets the image's ENV
    let out = w.ok(&p, &["run", "--rm", "empty-variable"]);
    assert_eq!(out.trim(), "==");
    // with one, the passthrough carries it
    let out = stdout_env(
        &w,
        &p,
        &["run", "--rm", "empty-variable"],
        &[("EMPTY", "caller")],
    );
    assert_eq!(out.trim(), "=caller=");
    w.ok(&p, &["down", "--rmi", "local"]);
    w.assert_clean();
}
