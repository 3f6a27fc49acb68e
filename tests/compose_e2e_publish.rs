//! docker compose's `pkg/e2e/publish_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see tests/E2E-SCENARIOS.md).
//! The prompt scenarios run with `--dry-run`, as upstream: the decision (prompt,
//! refusal or publication) is what a user sees. `test_publish` pushes to a
//! loopback docker-registry and reads the artifact back with `-f oci://`, and
//! also checks what the registry holds (media types, annotations, layer order).
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;
mod image_support;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::World;
use image_support::Registry;

/// Writes `files` (name, content) into a fresh project directory.
fn project(w: &World, name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let p = w.dir.path().join(name);
    fs::create_dir_all(&p).unwrap();
    for (f, content) in files {
        fs::write(p.join(f), content).unwrap();
    }
    p
}

/// Runs berth with `stdin` piped in; returns (exit code, stdout + stderr).
fn run(w: &World, dir: &Path, args: &[&str], stdin: &str) -> (i32, String) {
    let mut cmd = w.berth_command(dir, args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn assert_contains(out: &str, want: &str) {
    assert!(out.contains(want), "missing {want:?} in:\n{out}");
}

const PUBLISH_ENV: &str = "FOO=bar\nQUIX=\n";

#[test]
fn test_publish_prompt_env_file() {
    let w = World::new();
    let p = project(
        &w,
        "publishpromptenvfile",
        &[
            (
                "compose.yaml",
                "services:\n  serviceA:\n    image: \"alpine:3.12\"\n    env_file:\n      - publish.env\n  serviceB:\n    image: \"alpine:3.12\"\n",
            ),
            ("publish.env", PUBLISH_ENV),
        ],
    );
    // Declining the env prompt aborts the publication.
    let (code, out) = run(&w, &p, &["publish", "test/test", "--dry-run"], "n\n");
    assert_eq!(code, 130, "{out}");
    assert_contains(
        &out,
        "you are about to publish env-related declarations within your OCI artifact.",
    );
    assert_contains(&out, r#"service "serviceA": env_file declared"#);
    assert_contains(&out, "Are you ok to publish these env declarations?");
    assert!(!out.contains("test/test published"), "{out}");
    // --with-env publishes without prompting.
    let (code, out) = run(
        &w,
        &p,
        &["publish", "test/test", "--with-env", "-y", "--dry-run"],
        "",
    );
    assert_eq!(code, 0, "{out}");
    assert_contains(&out, "test/test publishing");
    assert_contains(&out, "test/test published");
}

#[test]
fn test_publish_prompt_suspicious_env() {
    let w = World::new();
    let p = project(
        &w,
        "publishpromptsuspiciousenv",
        &[(
            "compose.yaml",
            "services:\n  serviceA:\n    image: \"alpine:3.12\"\n    environment:\n        - \"MYSQL_ROOT_PASSWORD=bar\"\n  serviceB:\n    image: \"alpine:3.12\"\n",
        )],
    );
    let (code, out) = run(&w, &p, &["publish", "test/test", "--dry-run"], "n\n");
    assert_eq!(code, 130, "{out}");
    assert_contains(
        &out,
        r#"service "serviceA": literal value for "MYSQL_ROOT_PASSWORD""#,
    );
    let (code, out) = run(
        &w,
        &p,
        &["publish", "test/test", "--with-env", "-y", "--dry-run"],
        "",
    );
    assert_eq!(code, 0, "{out}");
    assert_contains(&out, "test/test publishing");
    assert_contains(&out, "test/test published");
}

#[test]
fn test_publish_interpolated_env() {
    let w = World::new();
    let p = project(
        &w,
        "publishinterpolatedenv",
        &[(
            "compose.yaml",
            "services:\n  serviceA:\n    image: \"alpine:3.12\"\n    environment:\n      TEST: \"${SOMEVAR}\"\n",
        )],
    );
    // No stdin at all: no prompt may be waiting for an answer.
    let (code, out) = run(&w, &p, &["publish", "test/test", "-y", "--dry-run"], "");
    assert_eq!(code, 0, "{out}");
    assert_contains(&out, "test/test publishing");
    assert_contains(&out, "test/test published");
    let (code, out) = run(&w, &p, &["publish", "test/test", "--dry-run"], "");
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("env-related declarations"), "{out}");
}

#[test]
fn test_publish_prompt_aggregates_findings() {
    let w = World::new();
    let p = project(
        &w,
        "publishpromptaggregatesfindings",
        &[
            (
                "compose.yaml",
                "services:\n  serviceA:\n    image: \"alpine:3.12\"\n    environment:\n      - \"DB_PASSWORD=bar\"\n  serviceB:\n    image: \"alpine:3.12\"\n    env_file:\n      - publish.env\n    environment:\n      - \"API_KEY=baz\"\n",
            ),
            ("publish.env", PUBLISH_ENV),
        ],
    );
    let (code, out) = run(&w, &p, &["publish", "test/test", "--dry-run"], "n\n");
    assert_eq!(code, 130, "{out}");
    assert_contains(&out, r#"service "serviceB": env_file declared"#);
    assert_contains(
        &out,
        r#"service "serviceA": literal value for "DB_PASSWORD""#,
    );
    assert_contains(&out, r#"service "serviceB": literal value for "API_KEY""#);
    assert_contains(&out, "Use --with-env to silence this prompt");
}

#[test]
fn test_publish_with_extends() {
    let w = World::new();
    let p = project(
        &w,
        "publishwithextends",
        &[
            (
                "compose.yaml",
                "services:\n  test:\n    extends:\n      file: common.yaml\n      service: foo\n",
            ),
            ("common.yaml", "services:\n  foo:\n    image: bar\n"),
        ],
    );
    let (code, out) = run(&w, &p, &["publish", "test/test", "--dry-run"], "");
    assert_eq!(code, 0, "{out}");
    assert_contains(&out, "test/test published");
}

#[test]
fn test_publish_bind_mount() {
    let w = World::new();
    let p = project(
        &w,
        "publishbindmount",
        &[(
            "compose.yaml",
            "services:\n  serviceA:\n    image: a\n    volumes:\n      - .:/user-data\n",
        )],
    );
    let (code, out) = run(&w, &p, &["publish", "test/test", "--dry-run"], "n\n");
    assert_eq!(code, 130, "{out}");
    assert_contains(
        &out,
        "you are about to publish bind mounts declaration within your OCI artifact.",
    );
    assert_contains(&out, &format!("serviceA{}:/user-data:rw", p.display()));
    assert_contains(&out, "Are you ok to publish these bind mount declarations?");
    assert!(!out.contains("test/test published"), "{out}");
    let (code, out) = run(&w, &p, &["publish", "test/test", "--dry-run"], "y\n");
    assert_eq!(code, 0, "{out}");
    assert_contains(&out, ":/user-data");
    assert_contains(&out, "test/test published");
}

#[test]
fn test_publish_build_only() {
    let w = World::new();
    let build = "    build:\n      context: .\n      dockerfile: Dockerfile\n";
    let p = project(
        &w,
        "publishbuildonly",
        &[
            (
                "compose.yaml",
                &format!("services:\n  serviceA:\n{build}  serviceB:\n{build}"),
            ),
            ("Dockerfile", "FROM alpine:latest\n"),
        ],
    );
    let (code, out) = run(
        &w,
        &p,
        &["publish", "test/test", "--with-env", "-y", "--dry-run"],
        "",
    );
    assert_eq!(code, 1, "{out}");
    assert_contains(
        &out,
        "your Compose stack cannot be published as it only contains a build section for service(s):",
    );
    assert_contains(&out, "- \"serviceA\"");
    assert_contains(&out, "- \"serviceB\"");
}

#[test]
fn test_publish_local_include() {
    let w = World::new();
    let p = project(
        &w,
        "publishlocalinclude",
        &[
            (
                "compose.yaml",
                "include:\n  - common.yaml\n\nservices:\n  test:\n    image: test\n",
            ),
            ("common.yaml", "services:\n  foo:\n    image: bar\n"),
        ],
    );
    let (code, out) = run(&w, &p, &["publish", "test/test", "--dry-run"], "");
    assert_eq!(code, 1, "{out}");
    assert_contains(&out, "cannot publish compose file with local includes");
}

#[test]
fn test_publish_detect_sensitive_data() {
    let w = World::new();
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw";
    let p = project(
        &w,
        "publishdetectsensitivedata",
        &[
            (
                "compose.yaml",
                "services:\n  serviceA:\n    image: \"alpine:3.12\"\n    environment:\n      - AWS_ACCESS_KEY_ID=A3TX1234567890ABCDEF\n      - AWS_SECRET_ACCESS_KEY=aws\"12345+67890/abcdefghijklm+NOPQRSTUVWXYZ+\"\n    configs:\n      - myconfig\n  serviceB:\n    image: \"alpine:3.12\"\n    env_file:\n      - publish-sensitive.env\n    secrets:\n      - mysecret\nconfigs:\n  myconfig:\n    file: config.txt\nsecrets:\n  mysecret:\n    file: secret.txt\n",
            ),
            ("config.txt", &format!("{jwt}5c\n")),
            (
                "publish-sensitive.env",
                "GITHUB_TOKEN=ghp_1234567890abcdefghijklmnopqrstuvwxyz\n",
            ),
            (
                "secret.txt",
                "-----BEGIN DSA PRIVATE KEY-----\nwxyz+ABC=\n-----END DSA PRIVATE KEY-----\n\n",
            ),
        ],
    );
    let (code, out) = run(
        &w,
        &p,
        &["publish", "test/test", "--with-env", "--dry-run"],
        "n\n",
    );
    assert_eq!(code, 130, "{out}");
    assert_contains(
        &out,
        "you are about to publish sensitive data within your OCI artifact.\n",
    );
    assert_contains(
        &out,
        "please double check that you are not leaking sensitive data",
    );
    assert_contains(
        &out,
        "AWS Client ID\n\"services.serviceA.environment.AWS_ACCESS_KEY_ID\": A3TX1234567890ABCDEF",
    );
    assert_contains(&out, "AWS Secret Key\n\"services.serviceA.environment.AWS_SECRET_ACCESS_KEY\": aws\"12345+67890/abcdefghijklm+NOPQRSTUVWXYZ+\"");
    assert_contains(
        &out,
        "Github authentication\n\"GITHUB_TOKEN\": ghp_1234567890abcdefghijklmnopqrstuvwxyz",
    );
    assert_contains(&out, &format!("JSON Web Token\n\"\": {jwt}"));
    assert_contains(&out, "Private Key\n\"\": -----BEGIN DSA PRIVATE KEY-----\nwxyz+ABC=\n-----END DSA PRIVATE KEY-----");
}

/// The manifest `repo_tag` points at in `reg`, parsed.
fn manifest(reg: &Registry, repo_tag: &str) -> serde_json::Value {
    serde_json::from_slice(&reg.inspect_raw(repo_tag)).unwrap()
}

#[test]
fn test_publish() {
    let reg = Registry::start(false);
    let w = World::new();
    let p = project(
        &w,
        "oci",
        &[
            (
                "compose.yaml",
                "services:\n  app:\n    extends:\n      file: extends.yaml\n      service: test",
            ),
            ("compose-override.yaml", "services:\n  app:\n    env_file: test.env"),
            ("extends.yaml", "services:\n  test:\n    image: alpine\n"),
            ("test.env", "HELLO=WORLD"),
            (
                "compose-interpolated.yaml",
                "services:\n  app:\n    image: alpine\n    environment:\n      GREETING: ${GREETING:-hello}\n",
            ),
        ],
    );
    let registry = reg.host();
    let (code, out) = run(
        &w,
        &p,
        &[
            "-f",
            "compose.yaml",
            "-f",
            "compose-override.yaml",
            "-p",
            "compose-e2e-publish",
            "publish",
            "--with-env",
            "--yes",
            "--insecure-registry",
            &format!("{registry}/test:test"),
        ],
        "",
    );
    assert_eq!(code, 0, "{out}");

    // What the registry holds: docker compose's artifact, layer by layer.
    let m = manifest(&reg, "test:test");
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(m["artifactType"], "application/vnd.docker.compose.project");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    let layers = m["layers"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = layers
        .iter()
        .map(|l| {
            let a = &l["annotations"];
            (
                l["mediaType"].as_str().unwrap(),
                a["com.docker.compose.file"]
                    .as_str()
                    .or(a["com.docker.compose.envfile"].as_str())
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds.len(), 4, "{m}");
    assert_eq!(
        kinds[..2],
        [
            ("application/vnd.docker.compose.file+yaml", "compose.yaml"),
            (
                "application/vnd.docker.compose.file+yaml",
                "compose-override.yaml"
            ),
        ]
    );
    assert_eq!(kinds[2].0, "application/vnd.docker.compose.file+yaml");
    assert!(kinds[2].1.ends_with(".yaml"), "{m}");
    assert_eq!(
        layers[2]["annotations"]["com.docker.compose.extends"],
        "true"
    );
    assert_eq!(kinds[3].0, "application/vnd.docker.compose.envfile");
    // No local path travels: extends and env_file name hashes.
    let text = m.to_string();
    assert!(!text.contains(p.to_str().unwrap()), "{m}");

    // Read back from the registry, as another machine would.
    let cache = tempfile::tempdir().unwrap();
    let oci = format!("oci://{registry}/test:test");
    let out = w
        .berth_command(
            w.dir.path(),
            &[
                "--project-name=oci",
                "--insecure-registry",
                &registry,
                "-f",
                &oci,
                "config",
            ],
        )
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "name: oci\nservices:\n  app:\n    environment:\n      HELLO: WORLD\n    image: alpine\n    networks:\n      default: null\nnetworks:\n  default:\n    name: oci_default\n"
    );

    // A second artifact, with a variable, published and read back.
    let (code, out) = run(
        &w,
        &p,
        &[
            "-f",
            "compose-interpolated.yaml",
            "-p",
            "compose-e2e-publish",
            "publish",
            "--with-env",
            "--yes",
            "--insecure-registry",
            &format!("{registry}/test:interpolated"),
        ],
        "",
    );
    assert_eq!(code, 0, "{out}");
    let oci = format!("oci://{registry}/test:interpolated");
    // `up` of a remote stack lists its variables and asks; declining creates nothing.
    let mut cmd = w.berth_command(
        w.dir.path(),
        &[
            "--project-name=oci-reload",
            "--insecure-registry",
            &registry,
            "-f",
            &oci,
            "up",
        ],
    );
    cmd.env("XDG_CACHE_HOME", cache.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"n\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("server gave HTTP response to HTTPS client"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_contains(&text, "operation cancelled by user");
    assert_contains(&text, "Found the following variables in configuration:");
    assert_contains(&text, "GREETING   hello   compose file   no         hello");
    let out = w
        .berth_command(
            w.dir.path(),
            &["--project-name=oci-reload", "-f", &oci, "config"],
        )
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("HTTP response to HTTPS client"));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("GREETING: hello"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    w.assert_clean();
}

/// Not a docker/compose e2e scenario: `include: - oci://…` pulls a published
/// project and merges it in, as docker compose's OCI loader does; and
/// `--resolve-image-digests` adds the pinned images as the last layer.
#[test]
fn oci_include_is_pulled_from_the_registry() {
    let reg = Registry::start(false);
    let w = World::new();
    let lib = project(
        &w,
        "ocilib",
        &[
            (
                "compose.yaml",
                "services:\n  db:\n    image: localhost/busybox:test\n    env_file: db.env\n",
            ),
            ("db.env", "ROLE=database\n"),
        ],
    );
    let target = format!("{}/lib/db:v1", reg.host());
    let (code, out) = run(
        &w,
        &lib,
        &[
            "publish",
            "--with-env",
            "-y",
            "--resolve-image-digests",
            &target,
        ],
        "",
    );
    assert_eq!(code, 0, "{out}");
    let m = manifest(&reg, "lib/db:v1");
    let last = m["layers"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["annotations"]["com.docker.compose.file"],
        "image-digests.yaml"
    );

    let app = project(
        &w,
        "ociapp",
        &[(
            "compose.yaml",
            &format!("include:\n  - oci://{target}\nservices:\n  web:\n    image: localhost/busybox:test\n    depends_on: [db]\n"),
        )],
    );
    let cache = tempfile::tempdir().unwrap();
    let out = w
        .berth_command(&app, &["config"])
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("  db:\n"), "{text}");
    assert!(text.contains("ROLE: database"), "{text}");
    assert!(text.contains("  web:\n"), "{text}");
    w.assert_clean();
}

/// Not a docker/compose e2e scenario: `--app` copies each service image into
/// the artifact's repository, so the application pulls from one place.
#[test]
fn publish_app_carries_the_images() {
    let reg = Registry::start(false);
    let w = World::new();
    let p = project(
        &w,
        "publishapp",
        &[(
            "compose.yaml",
            "services:\n  web:\n    image: localhost/busybox:test\n",
        )],
    );
    let target = format!("{}/shop/app:v1", reg.host());
    let (code, out) = run(&w, &p, &["publish", "-y", "--app", &target], "");
    assert_eq!(code, 0, "{out}");
    let store = berth::image::Store::open(w.root()).unwrap();
    let img = store.find(common::IMAGE).unwrap();
    let copied = reg.inspect_raw(&format!("shop/app@{}", img.digest));
    assert_eq!(berth::image::Digest::of(&copied), img.digest);
    let m = manifest(&reg, "shop/app:v1");
    let last = m["layers"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["annotations"]["com.docker.compose.file"],
        "image-digests.yaml"
    );
    w.assert_clean();
}
