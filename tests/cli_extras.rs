//! Smaller commands and refusals, as docker compose has them: `version
//! --format json`, `ls --filter`, `up` of a service that needs a model, and a
//! remote `include` offline.

mod common;

use common::World;

#[test]
fn version_prints_docker_compose_shapes() {
    let w = World::new();
    let p = w.project("versionjson", "services: {}\n");
    let v = env!("CARGO_PKG_VERSION");
    let json: serde_json::Value =
        serde_json::from_str(&w.ok(&p, &["version", "--format", "json"])).unwrap();
    assert_eq!(json, serde_json::json!({ "version": format!("v{v}") }));
    assert_eq!(w.ok(&p, &["version", "--short"]), format!("{v}\n"));
    assert_eq!(w.ok(&p, &["version"]), format!("berth version v{v}\n"));
    w.assert_clean();
}

#[test]
fn ls_filters_projects_by_name() {
    let w = World::new();
    let yaml = "services:\n  a:\n    image: IMAGE\n    init: true\n    command: sleep infinity\n";
    let front = w.project("lsfront", yaml);
    let back = w.project("lsback", yaml);
    w.ok(&front, &["up", "-d"]);
    w.ok(&back, &["up", "-d"]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["ls", "-q"];
        all.extend_from_slice(args);
        w.ok(&front, &all).lines().map(str::to_string).collect()
    };
    assert_eq!(names(&[]), ["lsback", "lsfront"]);
    assert_eq!(names(&["--filter", "name=lsfront"]), ["lsfront"]);
    assert_eq!(names(&["--filter", "name=^lsb"]), ["lsback"]);
    assert_eq!(names(&["--filter", "name=nothing"]), Vec::<String>::new());
    let out = w.berth_in(&front, &["ls", "--filter", "status=running"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid filter 'status'"));
    w.ok(&front, &["down", "-t", "0"]);
    w.ok(&back, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn up_of_a_service_needing_a_model_is_refused_by_name() {
    let w = World::new();
    let p = w.project(
        "modelsvc",
        r#"
services:
  app:
    image: IMAGE
    command: sleep infinity
    models: [llm]
  other:
    image: IMAGE
    init: true
    command: sleep infinity
models:
  llm:
    model: ai/smollm2
"#,
    );
    let out = w.berth_in(&p, &["up", "-d"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("service \"app\" needs model \"llm\" (ai/smollm2): berth has no model runner"),
        "{err}"
    );
    // nothing was created for it; the services without models still run
    assert!(w.ps(&p).is_empty());
    w.ok(&p, &["up", "-d", "other"]);
    // and `config` prints the models as docker compose does
    let cfg = w.ok(&p, &["config"]);
    assert!(
        cfg.contains("models:\n  llm:\n    model: ai/smollm2"),
        "{cfg}"
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn remote_include_is_a_clear_offline_error() {
    let w = World::new();
    let remote = "https://github.com/x/y.git";
    let p = w.project(
        "remoteinc",
        &format!("include:\n  - {remote}\nservices:\n  a:\n    image: IMAGE\n"),
    );
    let out = w.berth_in(&p, &["config"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "include[0]: remote include {remote:?} is not supported"
        )),
        "{err}"
    );
    // An OCI include is pulled (tests/compose_e2e_publish.rs); a registry that
    // is not there is named.
    let port = common::free_port();
    let remote = format!("oci://127.0.0.1:{port}/app:1");
    let p = w.project(
        "remoteinc",
        &format!("include:\n  - {remote}\nservices:\n  a:\n    image: IMAGE\n"),
    );
    let out = w.berth_in(&p, &["config"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "failed to pull OCI resource \"127.0.0.1:{port}/app:1\""
        )),
        "{err}"
    );
    w.assert_clean();
}
