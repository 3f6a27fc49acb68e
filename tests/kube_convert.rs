//! `berth bridge convert` as a user runs it: golden manifests for the
//! examples and for fixture projects that exercise every mapping of issue 16,
//! every manifest through `kubernetes-validate --strict` and `kubectl
//! kustomize` (when installed: scripts/setup), and one test per warning.
//!
//! Regenerate the golden files with `BERTH_UPDATE_GOLDEN=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod image_support;

/// The Kubernetes version the manifests are generated for (k8s-openapi feature `v1_33`).
const KUBE_VERSION: &str = "1.33.0";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs berth in `dir` with its own empty state root.
fn berth(dir: &Path, args: &[&str]) -> Output {
    let root = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.current_dir(dir)
        .arg("--root")
        .arg(root.path())
        .args(args)
        .env_remove("BUSYBOX_IMAGE")
        .env_remove("WEB_PORT")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE");
    cmd.output().unwrap()
}

/// `bridge convert ARGS --stdout` in `dir`: (manifests, warnings), repo path
/// (bind mounts resolve to absolute paths) replaced by `$REPO` so the golden
/// files do not depend on the checkout.
fn convert(dir: &Path, args: &[&str]) -> (String, String) {
    let mut all = vec!["bridge", "convert", "--stdout"];
    all.extend_from_slice(args);
    let out = berth(dir, &all);
    let stderr =
        String::from_utf8_lossy(&out.stderr).replace(&repo().display().to_string(), "$REPO");
    assert!(
        out.status.success(),
        "convert failed in {}: {stderr}",
        dir.display()
    );
    let stdout = String::from_utf8(out.stdout)
        .unwrap()
        .replace(&repo().display().to_string(), "$REPO");
    (stdout, stderr)
}

fn golden(case: &str, dir: &Path, args: &[&str]) {
    let (yaml, warnings) = convert(dir, args);
    let base = repo().join("tests/golden/kube");
    let (gy, gw) = (
        base.join(format!("{case}.yaml")),
        base.join(format!("{case}.warnings")),
    );
    if std::env::var_os("BERTH_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(&gy, &yaml).unwrap();
        std::fs::write(&gw, &warnings).unwrap();
    }
    assert_eq!(
        yaml,
        std::fs::read_to_string(&gy).unwrap(),
        "{case}: manifests differ from {}",
        gy.display()
    );
    assert_eq!(
        warnings,
        std::fs::read_to_string(&gw).unwrap(),
        "{case}: warnings differ from {}",
        gw.display()
    );
    validate(case, dir, args);
}

/// The schema validator: `$KUBERNETES_VALIDATE`, the venv scripts/setup makes, or PATH.
fn validator() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBERNETES_VALIDATE") {
        return Some(PathBuf::from(p));
    }
    let venv = repo().join(".venv-k8s/bin/kubernetes-validate");
    if venv.is_file() {
        return Some(venv);
    }
    let found = Command::new("kubernetes-validate")
        .arg("--version")
        .output();
    found
        .is_ok_and(|o| o.status.success())
        .then(|| PathBuf::from("kubernetes-validate"))
}

/// Writes the manifests as files and checks them with kubernetes-validate
/// --strict and `kubectl kustomize`, each skipped (with a note) when missing.
fn validate(case: &str, dir: &Path, args: &[&str]) {
    let out_dir = tempfile::tempdir().unwrap();
    let o = out_dir.path().join("out");
    let mut all = vec!["bridge", "convert", "-o", o.to_str().unwrap()];
    all.extend_from_slice(args);
    let run = berth(dir, &all);
    assert!(
        run.status.success(),
        "{case}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&o)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "kustomization.yaml")
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{case}: no manifests written");
    match validator() {
        Some(v) => {
            let r = Command::new(v)
                .args(["--strict", "-k", KUBE_VERSION])
                .args(&files)
                .output()
                .unwrap();
            assert!(
                r.status.success(),
                "{case}: kubernetes-validate --strict rejects the manifests:\n{}{}",
                String::from_utf8_lossy(&r.stdout),
                String::from_utf8_lossy(&r.stderr)
            );
        }
        None => eprintln!(
            "{case}: kubernetes-validate not installed (scripts/setup): schema check skipped"
        ),
    }
    match Command::new("kubectl").arg("kustomize").arg(&o).output() {
        Ok(r) => {
            assert!(
                r.status.success(),
                "{case}: kubectl kustomize: {}",
                String::from_utf8_lossy(&r.stderr)
            );
            let docs = String::from_utf8_lossy(&r.stdout)
                .matches("\nkind: ")
                .count()
                + usize::from(String::from_utf8_lossy(&r.stdout).starts_with("kind: "));
            assert_eq!(docs, files.len(), "{case}: kustomize renders every file");
        }
        Err(_) => eprintln!("{case}: kubectl not installed: kustomize check skipped"),
    }
}

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/kube").join(name)
}

#[test]
fn example_web_stack() {
    golden("web-stack", &repo().join("examples/compose/web-stack"), &[]);
}

#[test]
fn every_mapping() {
    golden("full", &fixture("full"), &[]);
}

#[test]
fn every_mapping_with_nodeports_in_a_namespace() {
    golden(
        "full-nodeport",
        &fixture("full"),
        &["--publish-as", "nodeport", "--namespace", "shop"],
    );
}

#[test]
fn unmapped_keys_are_reported() {
    golden("unmapped", &fixture("unmapped"), &[]);
}

#[test]
fn bind_mounts_as_config_maps() {
    golden(
        "binds-configmap",
        &fixture("binds"),
        &["--bind-mounts", "configmap"],
    );
}

#[test]
fn bind_mounts_as_host_paths() {
    golden(
        "binds-hostpath",
        &fixture("binds"),
        &["--bind-mounts", "hostpath"],
    );
}

#[test]
fn selected_services_bring_their_dependencies() {
    let (yaml, _) = convert(&fixture("full"), &["migrate"]);
    assert!(
        yaml.contains("name: migrate") && yaml.contains("name: db"),
        "{yaml}"
    );
    assert!(!yaml.contains("name: web-front"), "{yaml}");
}

/// A project in a temp dir with `compose.yaml`.
fn project(yaml: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("compose.yaml"), yaml).unwrap();
    d
}

fn fails(yaml: &str, args: &[&str]) -> String {
    let d = project(yaml);
    let mut all = vec!["bridge", "convert", "--stdout"];
    all.extend_from_slice(args);
    let out = berth(d.path(), &all);
    assert!(!out.status.success(), "convert should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn colliding_names_are_an_error_naming_both() {
    let err = fails(
        "services:\n  web_app: {image: a}\n  web-app: {image: b}\n",
        &[],
    );
    assert!(
        err.contains("\"web-app\" and \"web_app\"") || err.contains("\"web_app\" and \"web-app\""),
        "{err}"
    );
}

#[test]
fn bad_namespace_and_unknown_service_are_errors() {
    let err = fails("services:\n  a: {image: a}\n", &["--namespace", "Bad_NS"]);
    assert!(err.contains("Bad_NS"), "{err}");
    let err = fails("services:\n  a: {image: a}\n", &["nope"]);
    assert!(err.contains("no such service: nope"), "{err}");
}

/// One compose project per warning; each must print its warning exactly once.
#[test]
fn each_warning() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("services:\n  a: {image: x, ulimits: {nofile: 10}}\n", &[], "a: ulimits: has no Kubernetes mapping"),
        ("services:\n  a: {image: x, deploy: {placement: {constraints: [x]}}}\n", &[], "a: deploy.placement: has no Kubernetes mapping"),
        ("services:\n  a: {image: x}\nnetworks:\n  default: {driver: overlay}\n", &[], "networks.default: driver: has no Kubernetes mapping"),
        ("services:\n  a: {image: x}\nnetworks:\n  default: {internal: true}\n", &[], "networks.default: internal: egress out of the cluster is not restricted"),
        ("services:\n  a: {image: x, volumes: [\"vol:/d\"]}\nvolumes:\n  vol: {driver: local}\n", &[], "volumes.vol: driver: has no Kubernetes mapping"),
        ("services:\n  a: {image: x, volumes: [\"vol:/d\"]}\nvolumes:\n  vol: {external: true}\n", &[], "volumes.vol: external: the manifests use an existing claim"),
        ("services:\n  a: {image: x, volumes: [\"vol:/d\"]}\n  b: {image: x, volumes: [\"vol:/e\"]}\nvolumes:\n  vol: {}\n", &[], "volumes.vol: access: mounted by several services' pods at once (a, b)"),
        ("services:\n  a: {image: x, user: www}\n", &[], "a: user: \"www\": Kubernetes takes numeric ids only"),
        ("services:\n  a: {image: x, group_add: [audio]}\n", &[], "a: group_add: \"audio\": Kubernetes takes numeric group ids only"),
        ("services:\n  a: {image: x, pids_limit: 10}\n", &[], "a: pids_limit: Kubernetes has no per-pod pids limit"),
        ("services:\n  a: {image: x, pull_policy: daily}\n", &[], "a: pull_policy: \"daily\" has no Kubernetes mapping"),
        ("services:\n  a: {image: x}\n  b: {image: x, network_mode: \"service:a\"}\n", &[], "b: network_mode: \"service:a\""),
        ("services:\n  a: {image: x}\n  b: {image: x, network_mode: \"service:a\", ports: [\"80:80\"]}\n", &[], "b: ports: network_mode \"service:a\": the pod has no Service"),
        ("services:\n  a: {image: x, pid: \"container:y\"}\n", &[], "a: pid: \"container:y\" has no Kubernetes mapping"),
        ("services:\n  a: {image: x, extra_hosts: [\"h=host-gateway\"]}\n", &[], "a: extra_hosts: host-gateway has no meaning in a cluster"),
        ("services:\n  a: {image: x, expose: [\"1-65535\"]}\n", &[], "a: expose[0]: \"1-65535\" is not a port or a range"),
        ("services:\n  a: {image: x, ports: [\"127.0.0.1:80:80\"]}\n", &[], "a: ports[0]: published on 127.0.0.1 only (this host)"),
        ("services:\n  a: {image: x, ports: [\"80:80\"]}\n", &["--publish-as", "nodeport"], "a: ports[0]: published port 80 is outside the NodePort range"),
        ("services:\n  a: {image: x, volumes: [\"./d:/d\"]}\n", &[], "a: volumes[0]: bind mount $DIR/d -> /d has no meaning in a cluster; left out"),
        ("services:\n  a: {image: x, volumes: [\"./d:/d\"]}\n", &["--bind-mounts", "hostpath"], "a: volumes[0]: bind mount $DIR/d -> /d is a hostPath"),
        ("services:\n  a: {image: x, volumes: [\"./d:/d\"]}\n", &["--bind-mounts", "configmap"], "a: volumes[0]: bind mount $DIR/d -> /d is not a file"),
        ("services:\n  a: {image: x, secrets: [s]}\nsecrets:\n  s: {external: true}\n", &[], "secrets.s: external: the manifests refer to an existing secret"),
        ("services:\n  a: {image: x, secrets: [{source: s, uid: \"1\"}]}\nsecrets:\n  s: {environment: S}\n", &[], "a: secrets[0].uid: a mounted file's owner cannot be set"),
        ("services:\n  a: {image: x, configs: [c]}\nconfigs:\n  c: {content: \"\"}\n", &[], "configs.c: content: empty"),
        ("services:\n  a: {build: .}\n", &[], "a: build: image \"p-a\" is built by berth and exists only locally"),
        ("services:\n  a: {image: x, restart: \"no\", scale: 2}\n", &[], "a: deploy.replicas: a Job runs one pod to completion"),
        ("services:\n  a: {image: x, restart: \"no\", deploy: {mode: global}}\n", &[], "a: deploy.mode: global one-shot services"),
        ("services:\n  a: {image: x, restart: always}\n  b: {image: x, depends_on: {a: {condition: service_completed_successfully}}}\n", &[], "a: restart: \"always\", but other services wait for it to complete"),
        ("services:\n  a: {image: x}\n  b: {image: x, depends_on: {a: {condition: service_started, restart: true}}}\n", &[], "b: depends_on.a.restart: restarting with the dependency"),
        ("services:\n  a: {image: x, network_mode: none}\n  b: {image: x, depends_on: [a]}\n", &[], "b: depends_on.a: a has no Service to wait for"),
        ("services:\n  a: {image: x, deploy: {mode: global, replicas: 2}}\n", &[], "a: deploy.replicas: deploy.mode global runs one pod per node"),
        ("services:\n  a: {image: x, deploy: {resources: {reservations: {devices: [{capabilities: [gpu]}]}}}}\n", &[], "a: deploy.resources.reservations.devices: device requests"),
        ("services:\n  a: {image: x, healthcheck: {interval: 5s}}\n", &[], "a: healthcheck: no test"),
        ("services:\n  a: {image: x, ipc: \"service:b\"}\n  b: {image: x}\n", &[], "a: ipc: \"service:b\" has no Kubernetes mapping"),
        ("services:\n  a: {image: x, volumes: [{type: npipe, source: x, target: /x}]}\n", &[], "a: volumes[0]: a \"npipe\" mount has no Kubernetes mapping"),
    ];
    let mut failed = Vec::new();
    for (yaml, args, want) in cases {
        let d = project(&format!("name: p\n{yaml}"));
        std::fs::create_dir_all(d.path().join("d")).unwrap();
        let (_, warnings) = convert(d.path(), args);
        let want = want.replace("$DIR", &d.path().display().to_string());
        if warnings.matches(want.as_str()).count() != 1 {
            failed.push(format!(
                "want {want:?} once in warnings of\n{yaml}got:\n{warnings}"
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// A service without `ports` or `expose` listens on what its image EXPOSEs,
/// when the image is in berth's store.
#[test]
fn image_expose_from_the_store() {
    let root = tempfile::tempdir().unwrap();
    let d = project("name: p\nservices:\n  db: {image: localhost/kube-expose:1}\n");
    let tar = d.path().join("empty.tar");
    std::fs::write(&tar, [0u8; 1024]).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .current_dir(d.path())
            .arg("--root")
            .arg(root.path())
            .args(args)
            .output()
            .unwrap()
    };
    let imp = run(&[
        "image",
        "import",
        "--change",
        "EXPOSE 5432",
        "--change",
        "EXPOSE 53/udp",
        "empty.tar",
        "localhost/kube-expose:1",
    ]);
    assert!(
        imp.status.success(),
        "{}",
        String::from_utf8_lossy(&imp.stderr)
    );
    let out = run(&["bridge", "convert", "--stdout"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    for want in [
        "name: tcp-5432\n    port: 5432",
        "name: udp-53\n    port: 53\n    protocol: UDP",
    ] {
        assert!(yaml.contains(want), "{want} missing:\n{yaml}");
    }
    // Without the image in the store, the same project has a headless Service.
    let (yaml, _) = convert(d.path(), &[]);
    assert!(yaml.contains("clusterIP: None"), "{yaml}");
}

/// `--push`: a service's built image is pushed to its registry (a real
/// docker-registry on loopback) and the manifests pin the pushed digest.
#[test]
fn push_pins_the_pushed_digest() {
    let reg = image_support::Registry::start(false);
    let image = format!("{}/kube/app:1", reg.host());
    let root = tempfile::tempdir().unwrap();
    let d = project(&format!(
        "name: p\nservices:\n  app: {{build: ., image: \"{image}\"}}\n"
    ));
    std::fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .current_dir(d.path())
            .arg("--root")
            .arg(root.path())
            .args(args)
            .output()
            .unwrap()
    };
    // Before the image exists, --push says what to do.
    let out = run(&["bridge", "convert", "--stdout", "--push"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("build it first"),
        "{err}"
    );
    std::fs::write(d.path().join("empty.tar"), [0u8; 1024]).unwrap();
    let imp = run(&["image", "import", "empty.tar", &image]);
    assert!(
        imp.status.success(),
        "{}",
        String::from_utf8_lossy(&imp.stderr)
    );
    let out = run(&["bridge", "convert", "--stdout", "--push"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    let yaml = String::from_utf8(out.stdout).unwrap();
    let want = format!("image: {image}@sha256:");
    assert!(yaml.contains(&want), "{want} missing:\n{yaml}");
    assert!(!err.contains("exists only locally"), "{err}");
    // What the manifests name is in the registry.
    let pulled = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("--root")
        .arg(tempfile::tempdir().unwrap().path())
        .args(["image", "pull", &image])
        .output()
        .unwrap();
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
}
