//! The env_file reader against compose-go's dotenv fixtures (EXPECTED.json,
//! MIT-licensed godotenv cases kept under shared/conformance).

mod shared_fixtures;
use std::collections::BTreeMap;
use std::path::PathBuf;

use berth::compose::env_file::parse_env_file;

fn fixtures() -> Option<PathBuf> {
    shared_fixtures::conformance("compose-spec+compose-go/dotenv")
}

#[test]
fn dotenv_expected_cases() {
    let Some(dir) = fixtures() else { return };
    let text = std::fs::read_to_string(dir.join("fixtures/EXPECTED.json")).unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let file = case["file"].as_str().unwrap();
        if file.ends_with(".format") || case.get("preset_process_env").is_some() {
            continue; // a library API, and process-env precedence: not env_file semantics
        }
        let content = std::fs::read_to_string(dir.join(file)).unwrap();
        let os_env: BTreeMap<String, String> = case
            .get("os_env")
            .and_then(|e| e.as_object())
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| *k != "__clear_env")
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let lookup = |k: &str| os_env.get(k).cloned();
        let got = parse_env_file(&content, false, &lookup);
        if let Some(err) = case.get("expect_error_contains").and_then(|e| e.as_str()) {
            match got {
                Err(e) if e.contains(err) => {}
                other => failures.push(format!("{file}: expected error {err:?}, got {other:?}")),
            }
            continue;
        }
        let got: BTreeMap<String, String> = match got {
            Ok(v) => v.into_iter().collect(),
            Err(e) => {
                failures.push(format!("{file}: {e}"));
                continue;
            }
        };
        for (k, v) in case["expected"].as_object().unwrap() {
            let want = v.as_str().unwrap_or_default();
            if got.get(k).map(String::as_str) != Some(want) {
                failures.push(format!("{file}: {k}: want {want:?}, got {:?}", got.get(k)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
