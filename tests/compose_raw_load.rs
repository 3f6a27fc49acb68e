//! `load_raw` on compose-go's own test projects (`cli/testdata`,
//! `loader/testdata`; compose-spec/compose-go, Apache-2.0), read in place from
//! the shared conformance fixtures, plus a few temp-dir projects.

mod shared_fixtures;

use std::path::{Path, PathBuf};

use berth::compose::{load_raw, LoadError, ProjectOptions};
use indexmap::IndexMap;
use serde_yaml_ng::Value;

fn fixtures() -> Option<PathBuf> {
    shared_fixtures::conformance("compose-spec+compose-go")
}

macro_rules! fixtures_or_skip {
    () => {
        match fixtures() {
            Some(f) => f,
            None => {
                return;
            }
        }
    };
}

fn opts(dir: &Path, files: &[&str], env: &[(&str, &str)]) -> ProjectOptions {
    ProjectOptions {
        files: files.iter().map(|s| s.to_string()).collect(),
        interpolate: true,
        resolve_paths: true,
        working_dir: dir.to_path_buf(),
        os_env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<IndexMap<_, _>>(),
        ..Default::default()
    }
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

#[test]
fn discovers_compose_yaml_and_dot_env() {
    let root = fixtures_or_skip!();
    let dir = root.join("cli/testdata/simple");
    let p = load_raw(&opts(&dir, &[], &[])).unwrap();
    assert_eq!(p.name, "simple");
    assert_eq!(p.config_files, vec![dir.join("compose.yaml")]);
    assert_eq!(
        p.environment.get("PUBLIC_PORT").map(String::as_str),
        Some("8000")
    );
    assert_eq!(p.env_files, vec![dir.join(".env")]);
    assert_eq!(p.working_dir, dir);
}

#[test]
fn discovers_upward_from_a_subdirectory() {
    let root = fixtures_or_skip!();
    let tmp = tempdir("upward");
    std::fs::write(tmp.join("compose.yaml"), "services:\n  a:\n    image: x\n").unwrap();
    std::fs::write(
        tmp.join("compose.override.yml"),
        "services:\n  a:\n    image: y\n",
    )
    .unwrap();
    std::fs::create_dir_all(tmp.join("sub/deeper")).unwrap();
    let p = load_raw(&opts(&tmp.join("sub/deeper"), &[], &[])).unwrap();
    assert_eq!(p.working_dir, *tmp);
    assert_eq!(p.config_files.len(), 2);
    assert_eq!(p.tree["services"]["a"]["image"], s("y"));
    drop(root);
}

#[test]
fn unnormalized_directory_name() {
    let root = fixtures_or_skip!();
    let p = load_raw(&opts(
        &root.join("cli/testdata/UNNORMALIZED PATH"),
        &[],
        &[],
    ))
    .unwrap();
    assert_eq!(p.name, "unnormalizedpath");
}

#[test]
fn compose_file_and_project_name_from_dot_env() {
    let root = fixtures_or_skip!();
    let dir = root.join("cli/testdata/env-file");
    let p = load_raw(&opts(&dir, &[], &[])).unwrap();
    assert_eq!(p.name, "my_project_from_dot_env");
    assert_eq!(p.config_files, vec![dir.join("compose-with-env-file.yaml")]);
}

#[test]
fn env_file_option_replaces_dot_env() {
    let root = fixtures_or_skip!();
    let dir = root.join("cli/testdata/env-file");
    let mut o = opts(&dir, &["compose-with-env-files.yaml"], &[]);
    o.env_files = vec![PathBuf::from("override.env")];
    let p = load_raw(&o).unwrap();
    assert_eq!(p.tree["services"]["simple"]["ports"][0], s("9000:80"));
    assert_eq!(
        p.tree["services"]["simple"]["env_file"],
        Value::Sequence(vec![
            s(&dir.join("simple-env").display().to_string()),
            s(&dir.join("second-env").display().to_string())
        ])
    );
    // Without --env-file, .env gives PORT=8000; the OS env wins over both.
    let p = load_raw(&opts(&dir, &["compose-with-env-files.yaml"], &[])).unwrap();
    assert_eq!(p.tree["services"]["simple"]["ports"][0], s("8000:80"));
    let p = load_raw(&opts(
        &dir,
        &["compose-with-env-files.yaml"],
        &[("PORT", "1")],
    ))
    .unwrap();
    assert_eq!(p.tree["services"]["simple"]["ports"][0], s("1:80"));
    // The version key is obsolete: warned about and dropped.
    assert!(p.tree.get("version").is_none());
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("the attribute `version` is obsolete")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn project_name_precedence_and_checks() {
    let root = fixtures_or_skip!();
    let dir = root.join("cli/testdata/simple");
    let p = load_raw(&opts(&dir, &["compose-name.yaml"], &[("TEST", "XYZ")])).unwrap();
    assert_eq!(p.name, "test-xyz-test");
    assert_eq!(p.environment["COMPOSE_PROJECT_NAME"], "test-xyz-test");
    let p = load_raw(&opts(
        &dir,
        &["compose-name.yaml"],
        &[("COMPOSE_PROJECT_NAME", "from-env")],
    ))
    .unwrap();
    assert_eq!(p.name, "from-env");
    let mut o = opts(
        &dir,
        &["compose-name.yaml"],
        &[("COMPOSE_PROJECT_NAME", "from-env")],
    );
    o.project_name = Some("flag".into());
    assert_eq!(load_raw(&o).unwrap().name, "flag");
    o.project_name = Some("Bad Name".into());
    let e = load_raw(&o).unwrap_err();
    assert!(matches!(e, LoadError::InvalidProjectName(_)));
    assert!(e
        .to_string()
        .starts_with("invalid project name \"Bad Name\": must consist only of lowercase"));
}

#[test]
fn overrides_merge_in_order() {
    let root = fixtures_or_skip!();
    let dir = root.join("cli/testdata/simple");
    let p = load_raw(&opts(
        &dir,
        &["compose.yaml", "compose-with-overrides.yaml"],
        &[],
    ))
    .unwrap();
    let base: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(dir.join("compose-with-overrides.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        p.tree["services"]["simple"]["image"],
        base["services"]["simple"]["image"]
    );
}

#[test]
fn empty_file_is_an_error() {
    let root = fixtures_or_skip!();
    let dir = root.join("loader/testdata");
    let e = load_raw(&opts(&dir, &["empty.yaml"], &[])).unwrap_err();
    assert_eq!(e.to_string(), "empty compose file");
}

#[test]
fn include_cycle_is_detected() {
    let root = fixtures_or_skip!();
    let dir = root.join("loader/testdata");
    let e = load_raw(&opts(&dir, &["compose-include-cycle.yaml"], &[])).unwrap_err();
    assert!(e.to_string().starts_with("include cycle detected"), "{e}");
}

#[test]
fn include_imports_resources_with_their_own_paths() {
    let root = fixtures_or_skip!();
    let dir = root.join("loader/testdata");
    let p = load_raw(&opts(&dir, &["compose-include.yaml"], &[])).unwrap();
    let svcs = p.tree["services"].as_mapping().unwrap();
    assert!(svcs.contains_key("bar") && svcs.contains_key("imported"));
    assert_eq!(
        p.tree["services"]["imported"]["container_name"],
        s("imported")
    );
    assert_eq!(
        p.tree["services"]["imported"]["env_file"][0],
        s(&dir.join("subdir/extra.env").display().to_string())
    );
    assert!(p.tree.get("include").is_none());

    let p = load_raw(&opts(
        &dir.join("include"),
        &["project-directory.yaml"],
        &[],
    ))
    .unwrap();
    let svc = &p.tree["services"]["service"];
    assert_eq!(
        svc["env_file"][0],
        s(&dir.join("subdir/extra.env").display().to_string())
    );
    assert_eq!(
        svc["volumes"][0]["source"],
        s(&dir
            .join("subdir/compose-test-extends-imported.yaml")
            .display()
            .to_string())
    );

    let p = load_raw(&opts(&dir.join("include"), &["compose.yaml"], &[])).unwrap();
    let inc = &p.tree["services"]["included"];
    assert_eq!(inc["build"], s(&dir.join("include").display().to_string()));
    assert_eq!(
        inc["volumes"][0],
        s(&format!("{}:/mnt", dir.join("include").display()))
    );
}

#[test]
fn include_then_extends_in_the_included_directory() {
    let root = fixtures_or_skip!();
    let dir = root.join("loader/testdata/combined");
    let p = load_raw(&opts(&dir, &["compose.yaml"], &[])).unwrap();
    assert_eq!(
        p.tree["services"]["service"]["build"],
        s(&dir.join("dir").display().to_string())
    );
    assert!(p.tree["services"]["service"].get("extends").is_none());
}

#[test]
fn extends_from_another_file_rebases_paths() {
    let root = fixtures_or_skip!();
    let dir = root.join("loader/testdata");
    let p = load_raw(&opts(
        &dir,
        &["compose-test-extends.yaml"],
        &[("SOURCE", "extends")],
    ))
    .unwrap();
    let svc = &p.tree["services"]["importer"];
    assert_eq!(svc["image"], s("nginx"));
    assert_eq!(svc["container_name"], s("extends"));
    assert_eq!(
        svc["env_file"][0],
        s(&dir.join("subdir/extra.env").display().to_string())
    );
    assert!(svc.get("extends").is_none());

    let mut o = opts(&dir, &["compose-test-extends.yaml"], &[]);
    o.resolve_paths = false;
    let p = load_raw(&o).unwrap();
    assert_eq!(
        p.tree["services"]["importer"]["env_file"][0],
        s("subdir/extra.env")
    );
}

#[test]
fn extends_same_file_nested_and_across_dirs() {
    let root = fixtures_or_skip!();
    let dir = root.join("loader/testdata/extends");
    let p = load_raw(&opts(&dir, &["base.yaml"], &[])).unwrap();
    let svcs = &p.tree["services"];
    assert_eq!(svcs["another"]["image"], s("base"));
    assert_eq!(svcs["with-build"]["build"], s(&dir.display().to_string()));
    assert!(svcs["nil"].is_null());

    let p = load_raw(&opts(&dir.join("withdir"), &["compose.yaml"], &[])).unwrap();
    assert_eq!(p.tree["services"]["test"]["image"], s("hello-world"));

    let p = load_raw(&opts(&dir, &["reset.yaml"], &[])).unwrap();
    assert!(
        p.tree["services"]["base"].get("command").is_none(),
        "{:?}",
        p.tree
    );
    assert_eq!(p.tree["services"]["base"]["image"], s("alpine:latest"));

    let p = load_raw(&opts(&dir, &["interpolated.yaml"], &[])).unwrap();
    assert_eq!(
        p.tree["services"]["foo"]["volumes"][0],
        s("/dev/null:/tmp/foo:ro")
    );
}

#[test]
fn extends_cycles_are_errors() {
    let tmp = tempdir("cycle");
    std::fs::write(
        tmp.join("compose.yaml"),
        "services:\n  a:\n    extends: b\n  b:\n    extends: c\n  c:\n    extends: a\n",
    )
    .unwrap();
    let e = load_raw(&opts(&tmp, &[], &[])).unwrap_err();
    assert!(matches!(e, LoadError::ExtendsCycle(_)), "{e}");
    assert!(e.to_string().starts_with("circular reference"), "{e}");
    std::fs::write(
        tmp.join("compose.yaml"),
        "services:\n  a:\n    extends: nope\n",
    )
    .unwrap();
    let e = load_raw(&opts(&tmp, &[], &[])).unwrap_err();
    assert!(e.to_string().contains("service \"nope\" not found"), "{e}");
}

#[test]
fn reset_and_override_across_files() {
    let tmp = tempdir("reset");
    std::fs::write(
        tmp.join("compose.yaml"),
        "services:\n  a:\n    image: x\n    ports: ['80:80']\n    environment: {A: '1'}\n    command: run\n",
    )
    .unwrap();
    std::fs::write(
        tmp.join("compose.override.yaml"),
        "services:\n  a:\n    ports: !override ['81:81']\n    environment: !reset {}\n    command: !reset null\n",
    )
    .unwrap();
    let p = load_raw(&opts(&tmp, &[], &[])).unwrap();
    let a = &p.tree["services"]["a"];
    assert_eq!(a["ports"], Value::Sequence(vec![s("81:81")]));
    assert!(a.get("environment").is_none());
    assert!(a.get("command").is_none());
}

#[test]
fn multi_document_files_merge_in_order() {
    let tmp = tempdir("multidoc");
    std::fs::write(
        tmp.join("compose.yaml"),
        "services:\n  a:\n    image: x\n---\nservices:\n  a:\n    image: y\n  b:\n    image: z\n",
    )
    .unwrap();
    let p = load_raw(&opts(&tmp, &[], &[])).unwrap();
    assert_eq!(p.tree["services"]["a"]["image"], s("y"));
    assert_eq!(p.tree["services"]["b"]["image"], s("z"));
}

#[test]
fn interpolation_errors_name_file_and_path() {
    let tmp = tempdir("interp");
    std::fs::write(
        tmp.join("compose.yaml"),
        "services:\n  a:\n    image: ${IMG:?set it}\n",
    )
    .unwrap();
    let e = load_raw(&opts(&tmp, &[], &[])).unwrap_err().to_string();
    assert!(e.contains("compose.yaml"), "{e}");
    assert!(e.contains("services.a.image"), "{e}");
    assert!(
        e.contains("required variable IMG is missing a value: set it"),
        "{e}"
    );
    std::fs::write(
        tmp.join("compose.yaml"),
        "services:\n  a:\n    image: ${IMG}\n    labels:\n      $KEY: v\n",
    )
    .unwrap();
    let p = load_raw(&opts(&tmp, &[], &[])).unwrap();
    assert!(p
        .warnings
        .iter()
        .any(|w| w == "The \"IMG\" variable is not set. Defaulting to a blank string."));
    assert!(p.variables.contains_key("IMG"));
    // Keys are never interpolated.
    assert!(p.tree["services"]["a"]["labels"].get("$KEY").is_some());
}

#[test]
fn profiles_and_disabled_dot_env() {
    let tmp = tempdir("profiles");
    std::fs::write(
        tmp.join("compose.yaml"),
        "services:\n  a:\n    image: ${IMG:-none}\n",
    )
    .unwrap();
    std::fs::write(tmp.join(".env"), "IMG=fromenv\nCOMPOSE_PROFILES=x, y\n").unwrap();
    let p = load_raw(&opts(&tmp, &[], &[])).unwrap();
    assert_eq!(p.profiles, vec!["x", "y"]);
    assert_eq!(p.tree["services"]["a"]["image"], s("fromenv"));
    let p = load_raw(&opts(&tmp, &[], &[("COMPOSE_DISABLE_ENV_FILE", "1")])).unwrap();
    assert_eq!(p.tree["services"]["a"]["image"], s("none"));
    assert!(p.profiles.is_empty());
}

#[test]
fn no_config_file() {
    let tmp = tempdir("none");
    // Discovery walks up to / and must not find one there either.
    if Path::new("/compose.yaml").exists() || Path::new("/docker-compose.yml").exists() {
        return;
    }
    let e = load_raw(&opts(&tmp, &[], &[])).unwrap_err();
    assert_eq!(e.to_string(), "no configuration file provided: not found");
}

/// A test's scratch directory, removed when the test ends (passing or not).
struct TmpDir(PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(name: &str) -> TmpDir {
    let dir = std::env::temp_dir().join(format!("berth-raw-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TmpDir(dir)
}

#[test]
fn nested_dot_env_both_load_and_the_working_dir_wins() {
    let tmp = tempdir("nested");
    std::fs::write(
        tmp.join("compose.yaml"),
        "services:\n  a:\n    image: ${ROOT}-${SUB}-${BOTH}\n",
    )
    .unwrap();
    std::fs::write(tmp.join(".env"), "ROOT=root\nBOTH=fromroot\n").unwrap();
    std::fs::create_dir_all(tmp.join("sub")).unwrap();
    std::fs::write(tmp.join("sub/.env"), "SUB=sub\nBOTH=fromsub\n").unwrap();
    let p = load_raw(&opts(&tmp.join("sub"), &[], &[])).unwrap();
    assert_eq!(p.tree["services"]["a"]["image"], s("root-sub-fromsub"));
    assert_eq!(p.env_files, vec![tmp.join("sub/.env"), tmp.join(".env")]);
}

#[test]
fn compose_file_with_separator_and_compose_env_files() {
    let tmp = tempdir("sep");
    std::fs::write(tmp.join("a.yaml"), "services:\n  a:\n    image: ${IMG}\n").unwrap();
    std::fs::write(tmp.join("b.yaml"), "services:\n  b:\n    image: b\n").unwrap();
    std::fs::write(tmp.join("one.env"), "IMG=one\n").unwrap();
    std::fs::write(tmp.join("two.env"), "IMG=two\n").unwrap();
    let env = [
        ("COMPOSE_FILE", "a.yaml;b.yaml"),
        ("COMPOSE_PATH_SEPARATOR", ";"),
        ("COMPOSE_ENV_FILES", "one.env,two.env"),
    ];
    let p = load_raw(&opts(&tmp, &[], &env)).unwrap();
    assert_eq!(p.config_files, vec![tmp.join("a.yaml"), tmp.join("b.yaml")]);
    assert_eq!(p.tree["services"]["a"]["image"], s("two"));
    assert_eq!(p.tree["services"]["b"]["image"], s("b"));
}

#[test]
fn project_directory_moves_dot_env_and_relative_paths() {
    let tmp = tempdir("projdir");
    std::fs::create_dir_all(tmp.join("files")).unwrap();
    std::fs::create_dir_all(tmp.join("proj")).unwrap();
    std::fs::write(
        tmp.join("files/compose.yaml"),
        "services:\n  a:\n    image: ${IMG}\n    build: ./ctx\n",
    )
    .unwrap();
    std::fs::write(tmp.join("proj/.env"), "IMG=proj\n").unwrap();
    let mut o = opts(&tmp, &["files/compose.yaml"], &[]);
    o.project_directory = Some(PathBuf::from("proj"));
    let p = load_raw(&o).unwrap();
    assert_eq!(p.name, "proj");
    assert_eq!(p.working_dir, tmp.join("proj"));
    assert_eq!(p.tree["services"]["a"]["image"], s("proj"));
    assert_eq!(
        p.tree["services"]["a"]["build"],
        s(&tmp.join("proj/ctx").display().to_string())
    );
}

#[test]
fn deep_extends_chains_are_bounded_not_fatal() {
    let tmp = tempdir("deep");
    // Listed from the deepest service down, so that nothing is resolved early.
    let chain = |n: usize| {
        let mut text = String::from("services:\n");
        for i in (1..n).rev() {
            text.push_str(&format!("  s{i}:\n    extends: s{}\n", i - 1));
        }
        text.push_str("  s0:\n    image: x\n");
        text
    };
    std::fs::write(tmp.join("compose.yaml"), chain(5000)).unwrap();
    match load_raw(&opts(&tmp, &[], &[])) {
        Ok(_) => panic!("a 5000-deep extends chain loaded"),
        Err(e) => assert!(e.to_string().contains("extends chain deeper than"), "{e}"),
    }
    // A chain within the bound resolves.
    std::fs::write(tmp.join("compose.yaml"), chain(100)).unwrap();
    let p = load_raw(&opts(&tmp, &[], &[])).unwrap();
    assert_eq!(p.tree["services"]["s99"]["image"], s("x"));
}

#[test]
fn symlinked_project_directory_warns() {
    let tmp = tempdir("symlink");
    std::fs::create_dir_all(tmp.join("real")).unwrap();
    std::fs::write(
        tmp.join("real/compose.yaml"),
        "services:\n  a:\n    image: x\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(tmp.join("real"), tmp.join("link")).unwrap();
    let p = load_raw(&opts(&tmp.join("link"), &[], &[])).unwrap();
    assert_eq!(p.name, "link");
    assert!(
        p.warnings.iter().any(|w| w.contains("from a symlink")),
        "{:?}",
        p.warnings
    );
}
