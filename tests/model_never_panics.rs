//! berth must never panic on any input: random trees built from real
//! compose keys and odd scalars go through the whole model pipeline and the
//! outputs. (A `cargo fuzz` target can reuse `random_tree`.)

use std::path::PathBuf;

use berth::compose::hash::service_hash;
use berth::compose::output::{to_json, to_yaml};
use berth::compose::validate::SERVICE_KEYS;
use berth::compose::{build_project, ModelOptions, RawProject};
use indexmap::IndexMap;
use serde_yaml_ng::{Mapping, Number, Value};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SCALARS: &[&str] = &[
    "",
    "0",
    "-1",
    "80",
    "8080:80",
    "1-3:4-6",
    "[::1]:1:1/udp",
    "./x:/y:ro",
    "a:b:c:d",
    "yes",
    "off",
    "1.5",
    "1g",
    "90s",
    "${X}",
    "service:a",
    "container:b",
    "CMD",
    "NONE",
    "*",
    ":",
    "a=b",
    "k",
    "/",
    "~",
    "99999999999999999999",
    "🙂",
    "a\nb",
    " ",
    "all",
    "host",
    "/run/x",
];

const INNER_KEYS: &[&str] = &[
    "target",
    "published",
    "source",
    "type",
    "bind",
    "volume",
    "tmpfs",
    "size",
    "mode",
    "condition",
    "required",
    "restart",
    "context",
    "dockerfile",
    "args",
    "test",
    "interval",
    "retries",
    "resources",
    "limits",
    "reservations",
    "cpus",
    "memory",
    "devices",
    "count",
    "aliases",
    "ipv4_address",
    "soft",
    "hard",
    "path",
    "driver",
    "options",
    "external",
    "name",
    "x-a",
    "create_host_path",
    "replicas",
    "watch",
    "action",
    "command",
    "environment",
];

fn scalar(rng: &mut Rng) -> Value {
    match rng.below(5) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => Value::Number(Number::from(rng.next() as i64 % 100_000)),
        3 => Value::Number(Number::from((rng.next() % 1000) as f64 / 7.0)),
        _ => Value::String(SCALARS[rng.below(SCALARS.len())].to_string()),
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    if depth == 0 {
        return scalar(rng);
    }
    match rng.below(4) {
        0 => scalar(rng),
        1 => Value::Sequence(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut m = Mapping::new();
            for _ in 0..rng.below(4) {
                let k = INNER_KEYS[rng.below(INNER_KEYS.len())];
                m.insert(Value::String(k.into()), random_value(rng, depth - 1));
            }
            Value::Mapping(m)
        }
    }
}

/// A random project tree: services with real attribute names and junk values.
fn random_tree(rng: &mut Rng) -> Value {
    let mut services = Mapping::new();
    for i in 0..1 + rng.below(3) {
        let mut svc = Mapping::new();
        for _ in 0..rng.below(6) {
            let k = SERVICE_KEYS[rng.below(SERVICE_KEYS.len())];
            svc.insert(Value::String(k.into()), random_value(rng, 3));
        }
        if rng.below(2) == 0 {
            svc.insert(
                Value::String("image".into()),
                Value::String("alpine".into()),
            );
        }
        services.insert(Value::String(format!("s{i}")), Value::Mapping(svc));
    }
    let mut top = Mapping::new();
    top.insert(Value::String("services".into()), Value::Mapping(services));
    for k in ["networks", "volumes", "secrets", "configs"] {
        if rng.below(3) == 0 {
            top.insert(Value::String(k.into()), random_value(rng, 3));
        }
    }
    Value::Mapping(top)
}

#[test]
fn random_trees_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut loaded = 0;
    for _ in 0..3000 {
        let raw = RawProject {
            name: "fuzz".into(),
            working_dir: PathBuf::from("/fuzz"),
            config_files: vec![PathBuf::from("/fuzz/compose.yaml")],
            environment: IndexMap::new(),
            env_files: vec![],
            profiles: vec![],
            tree: random_tree(&mut rng),
            variables: IndexMap::new(),
            warnings: vec![],
        };
        let opts = ModelOptions {
            consistency: rng.below(2) == 0,
            resolve_environment: false,
            ..Default::default()
        };
        if let Ok((p, _)) = build_project(raw, &opts) {
            loaded += 1;
            let _ = to_yaml(&p);
            let _ = to_json(&p);
            for s in p.services.values() {
                let _ = service_hash(s);
            }
        }
    }
    assert!(loaded > 0);
}
