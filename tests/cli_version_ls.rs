//! `version --format json` and `ls --filter`, as docker compose has them.

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
