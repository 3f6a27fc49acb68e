//! Golden test: a representative project and the exact text
//! `docker compose config` prints for it (YAML and JSON), written from
//! compose-go's rules: field order, omitempty, defaults, Go quoting.

use std::path::{Path, PathBuf};

use berth::compose::hash::service_hash;
use berth::compose::output::{to_json, to_yaml};
use berth::compose::{build_project, ModelOptions, Project, RawProject};
use indexmap::IndexMap;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn shop_with(opts: &ModelOptions) -> Project {
    let text = std::fs::read_to_string(golden("shop.compose.yaml")).unwrap();
    let mut environment = IndexMap::new();
    environment.insert("FROM_ENV".to_string(), "hello".to_string());
    let raw = RawProject {
        name: "shop".into(),
        working_dir: PathBuf::from("/proj"),
        config_files: vec![PathBuf::from("/proj/compose.yaml")],
        environment,
        env_files: vec![],
        profiles: vec![],
        tree: serde_yaml_ng::from_str(&text).unwrap(),
        variables: IndexMap::new(),
        warnings: vec![],
    };
    build_project(raw, opts).unwrap().0
}

fn shop() -> Project {
    shop_with(&ModelOptions::default())
}

#[test]
fn yaml_matches_docker_compose_config() {
    let expected = std::fs::read_to_string(golden("shop.expected.yaml")).unwrap();
    assert_eq!(to_yaml(&shop()), expected);
}

#[test]
fn json_matches_docker_compose_config() {
    let expected = std::fs::read_to_string(golden("shop.expected.json")).unwrap();
    assert_eq!(to_json(&shop()), expected);
}

// Pinned config hashes: if one changes, every container of that shape is
// recreated on the next `up` after upgrading berth (docker/compose#11335).
#[test]
fn pinned_hashes() {
    // `config --hash` and `up` hash the model before env files are resolved.
    let p = shop_with(&ModelOptions {
        resolve_environment: false,
        ..Default::default()
    });
    let hashes: Vec<(String, String)> = p
        .services
        .values()
        .map(|s| (s.name.clone(), service_hash(s)))
        .collect();
    assert_eq!(
        hashes,
        vec![
            (
                "api".to_string(),
                "84a0753b1a84740f6626884b3d63d0c6076e1a85e11a92b64e8026e2c3f61fd9".to_string()
            ),
            (
                "db".to_string(),
                "dfe37a0caa1554ce2672a7b417f8f7631b5bad9e2dc61c6d3d6e71ccee4142fa".to_string()
            ),
            (
                "web".to_string(),
                "e340ae2cd7c79ae076a515e2d4019f73e914f392313e086aba92aabcb6156840".to_string()
            ),
        ]
    );
}
