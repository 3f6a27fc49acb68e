//! Merging compose trees (`-f a -f b`, extends, include) with every per-key rule
//! of compose-go's `override/merge.go`, and `EnforceUnicity` from
//! `override/uncity.go`: unique-keyed lists keep the last definition of a key at
//! the position of its first.

use serde_yaml_ng::{Mapping, Value};

use super::keypath::KeyPath;
use super::shortsyntax::parse_volume;
use super::yaml::scalar_string;

/// Why a merge failed: compose-go's message, naming the key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeError(pub String);

/// Merges `over` onto `base` (both whole compose trees or subtrees at `path`).
pub fn merge(base: Value, over: Value, path: &KeyPath) -> Result<Value, MergeError> {
    if let Some(special) = special(path) {
        return special(base, over, path);
    }
    if over.is_null() {
        return Ok(base);
    }
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => Ok(Value::Mapping(merge_mappings(b, o, path)?)),
        (Value::Mapping(_), _) => Err(MergeError(format!("cannot override {path}"))),
        (Value::Sequence(mut b), Value::Sequence(o)) => {
            b.extend(o);
            Ok(Value::Sequence(b))
        }
        (Value::Sequence(_), _) => Err(MergeError(format!("cannot override {path}"))),
        (_, o) => Ok(o),
    }
}

type Merger = fn(Value, Value, &KeyPath) -> Result<Value, MergeError>;

fn special(path: &KeyPath) -> Option<Merger> {
    let segs = path.segments();
    // Every rule lives under one of these top-level keys.
    match segs.first().map(String::as_str) {
        Some("services" | "networks" | "volumes" | "models") => {}
        _ => return None,
    }
    const TO_SEQUENCE: &[&[&str]] = &[
        &["networks", "*", "labels"],
        &["volumes", "*", "labels"],
        &["services", "*", "annotations"],
        &["services", "*", "build", "args"],
        &["services", "*", "build", "additional_contexts"],
        &["services", "*", "build", "labels"],
        &["services", "*", "deploy", "labels"],
        &["services", "*", "dns"],
        &["services", "*", "dns_opt"],
        &["services", "*", "dns_search"],
        &["services", "*", "env_file"],
        &["services", "*", "label_file"],
        &["services", "*", "environment"],
        &["services", "*", "labels"],
        &["services", "*", "volumes", "*", "volume", "labels"],
        &["services", "*", "sysctls"],
        &["services", "*", "tmpfs"],
    ];
    if TO_SEQUENCE.iter().any(|p| path.matches(p)) {
        return Some(merge_to_sequence);
    }
    let table: &[(&[&str], Merger)] = &[
        (&["networks", "*", "ipam", "config"], merge_ipam_config),
        (&["services", "*", "build"], merge_build),
        (&["services", "*", "command"], override_value),
        (&["services", "*", "entrypoint"], override_value),
        (&["services", "*", "healthcheck", "test"], override_value),
        (&["services", "*", "depends_on"], merge_depends_on),
        (&["services", "*", "extra_hosts"], merge_extra_hosts),
        (
            &["services", "*", "build", "extra_hosts"],
            merge_extra_hosts,
        ),
        (&["services", "*", "logging"], merge_logging),
        (&["services", "*", "models"], merge_as_mapping),
        (&["services", "*", "networks"], merge_as_mapping),
        (&["services", "*", "ulimits", "*"], override_value),
        (&["models", "*", "runtime_flags"], override_value),
    ];
    table.iter().find(|(p, _)| path.matches(p)).map(|(_, m)| *m)
}

fn merge_mappings(mut base: Mapping, over: Mapping, path: &KeyPath) -> Result<Mapping, MergeError> {
    for (k, v) in over {
        let key = k.as_str().unwrap_or_default().to_string();
        match base.get_mut(&k) {
            None => {
                base.insert(k, v);
            }
            Some(slot) => {
                let old = std::mem::take(slot);
                *slot = merge(old, v, &path.key(&key))?;
            }
        }
    }
    Ok(base)
}

fn override_value(_: Value, over: Value, _: &KeyPath) -> Result<Value, MergeError> {
    Ok(over)
}

/// Logging options merge only when both sides name the same driver (or one none).
fn merge_logging(base: Value, over: Value, path: &KeyPath) -> Result<Value, MergeError> {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            let same = match (b.get("driver"), o.get("driver")) {
                (Some(x), Some(y)) => x == y,
                _ => true,
            };
            if same {
                Ok(Value::Mapping(merge_mappings(b, o, path)?))
            } else {
                Ok(Value::Mapping(o))
            }
        }
        (b, Value::Null) => Ok(b),
        (_, o) => Ok(o),
    }
}

fn merge_build(base: Value, over: Value, path: &KeyPath) -> Result<Value, MergeError> {
    fn to_build(v: Value) -> Mapping {
        match v {
            Value::String(s) => {
                let mut m = Mapping::new();
                m.insert("context".into(), Value::String(s));
                m
            }
            Value::Mapping(m) => m,
            _ => Mapping::new(),
        }
    }
    Ok(Value::Mapping(merge_mappings(
        to_build(base),
        to_build(over),
        path,
    )?))
}

fn merge_depends_on(base: Value, over: Value, path: &KeyPath) -> Result<Value, MergeError> {
    let default = || {
        let mut m = Mapping::new();
        m.insert("condition".into(), "service_started".into());
        m.insert("required".into(), Value::Bool(true));
        Value::Mapping(m)
    };
    let b = into_mapping(base, &default);
    let o = into_mapping(over, &default);
    Ok(Value::Mapping(merge_mappings(b, o, path)?))
}

fn merge_as_mapping(base: Value, over: Value, path: &KeyPath) -> Result<Value, MergeError> {
    let b = into_mapping(base, &|| Value::Null);
    let o = into_mapping(over, &|| Value::Null);
    Ok(Value::Mapping(merge_mappings(b, o, path)?))
}

/// A list of names becomes a mapping of name → `default()`.
fn into_mapping(v: Value, default: &dyn Fn() -> Value) -> Mapping {
    match v {
        Value::Mapping(m) => m,
        Value::Sequence(seq) => {
            let mut m = Mapping::new();
            for item in seq {
                if let Some(k) = scalar_string(&item) {
                    m.insert(Value::String(k), default());
                }
            }
            m
        }
        _ => Mapping::new(),
    }
}

/// Map and `K=V` list forms both become a `K=V` list, appended; duplicates are
/// removed later by [`enforce_unicity`].
fn merge_to_sequence(base: Value, over: Value, _: &KeyPath) -> Result<Value, MergeError> {
    let mut b = into_sequence(base);
    b.extend(into_sequence(over));
    Ok(Value::Sequence(b))
}

fn merge_extra_hosts(base: Value, over: Value, _: &KeyPath) -> Result<Value, MergeError> {
    let mut b = into_sequence(base);
    let o: Vec<Value> = into_sequence(over)
        .into_iter()
        .filter(|v| !b.contains(v))
        .collect();
    b.extend(o);
    Ok(Value::Sequence(b))
}

/// compose-go's `convertIntoSequence`: a mapping becomes sorted `K=V` strings
/// (`K` alone for null, one entry per element for a list value).
pub fn into_sequence(v: Value) -> Vec<Value> {
    match v {
        Value::Mapping(m) => {
            let mut seq: Vec<String> = Vec::with_capacity(m.len());
            for (k, val) in m {
                let k = scalar_string(&k).unwrap_or_default();
                match val {
                    Value::Null => seq.push(k),
                    Value::Sequence(items) => {
                        for item in items {
                            seq.push(format!("{k}={}", display(&item)));
                        }
                    }
                    other => seq.push(format!("{k}={}", display(&other))),
                }
            }
            seq.sort();
            seq.into_iter().map(Value::String).collect()
        }
        Value::Sequence(s) => s,
        Value::String(s) => vec![Value::String(s)],
        _ => Vec::new(),
    }
}

fn display(v: &Value) -> String {
    scalar_string(v).unwrap_or_else(|| {
        serde_yaml_ng::to_string(v)
            .unwrap_or_default()
            .trim_end()
            .to_string()
    })
}

fn merge_ipam_config(base: Value, over: Value, path: &KeyPath) -> Result<Value, MergeError> {
    let (Value::Sequence(configs), Value::Sequence(overrides)) = (&base, &over) else {
        return Err(MergeError(format!(
            "{path}: unexpected type {}",
            super::yaml::kind(&base)
        )));
    };
    let subnet = |m: &Mapping| m.get("subnet").cloned();
    let mut out: Vec<Mapping> = Vec::new();
    for original in configs {
        let right = into_mapping(original.clone(), &|| Value::Null);
        for o in overrides {
            let left = into_mapping(o.clone(), &|| Value::Null);
            if subnet(&left) != subnet(&right) && !out.iter().any(|a| subnet(a) == subnet(&left)) {
                out.push(left);
                continue;
            }
            let merged = merge_mappings(right.clone(), left, path)?;
            match out.iter().position(|a| subnet(a) == subnet(&merged)) {
                Some(i) => out[i] = merged,
                None => out.push(merged),
            }
        }
    }
    Ok(Value::Sequence(
        out.into_iter().map(Value::Mapping).collect(),
    ))
}

/// Which identity a unique-keyed list uses.
#[derive(Clone, Copy)]
enum Indexer {
    KeyValue,
    Volume,
    Device,
    Expose,
    Mount(&'static str),
    Port,
    EnvFile,
}

const UNIQUE: &[(&[&str], Indexer)] = &[
    (&["networks", "*", "labels"], Indexer::KeyValue),
    (&["networks", "*", "ipam", "options"], Indexer::KeyValue),
    (&["services", "*", "annotations"], Indexer::KeyValue),
    (&["services", "*", "build", "args"], Indexer::KeyValue),
    (
        &["services", "*", "build", "additional_contexts"],
        Indexer::KeyValue,
    ),
    (&["services", "*", "build", "platform"], Indexer::KeyValue),
    (&["services", "*", "build", "tags"], Indexer::KeyValue),
    (&["services", "*", "build", "labels"], Indexer::KeyValue),
    (&["services", "*", "cap_add"], Indexer::KeyValue),
    (&["services", "*", "cap_drop"], Indexer::KeyValue),
    (&["services", "*", "devices"], Indexer::Device),
    (&["services", "*", "configs"], Indexer::Mount("")),
    (&["services", "*", "deploy", "labels"], Indexer::KeyValue),
    (&["services", "*", "dns"], Indexer::KeyValue),
    (&["services", "*", "dns_opt"], Indexer::KeyValue),
    (&["services", "*", "dns_search"], Indexer::KeyValue),
    (&["services", "*", "environment"], Indexer::KeyValue),
    (&["services", "*", "env_file"], Indexer::EnvFile),
    (&["services", "*", "expose"], Indexer::Expose),
    (&["services", "*", "labels"], Indexer::KeyValue),
    (&["services", "*", "links"], Indexer::KeyValue),
    (
        &["services", "*", "networks", "*", "aliases"],
        Indexer::KeyValue,
    ),
    (
        &["services", "*", "networks", "*", "link_local_ips"],
        Indexer::KeyValue,
    ),
    (&["services", "*", "ports"], Indexer::Port),
    (&["services", "*", "profiles"], Indexer::KeyValue),
    (
        &["services", "*", "secrets"],
        Indexer::Mount("/run/secrets"),
    ),
    (&["services", "*", "sysctls"], Indexer::KeyValue),
    (&["services", "*", "tmpfs"], Indexer::KeyValue),
    (&["services", "*", "volumes"], Indexer::Volume),
];

/// Removes redefinitions in unique-keyed lists: the last definition of a key
/// replaces the first, in the first's position.
pub fn enforce_unicity(value: &mut Value, path: &KeyPath) -> Result<(), MergeError> {
    unicity_at(value, &mut path.clone())
}

/// [`enforce_unicity`] with one path extended and shortened in place while
/// walking, rather than a new path allocated per node.
fn unicity_at(value: &mut Value, path: &mut KeyPath) -> Result<(), MergeError> {
    // Every unique-keyed list sits at most five keys deep under `services` or
    // `networks`; nothing else needs visiting.
    if path.len() >= 5 && !value.is_sequence() {
        return Ok(());
    }
    match value {
        Value::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                let key = k.as_str().unwrap_or_default();
                if path.is_empty() && key != "services" && key != "networks" {
                    continue;
                }
                path.push_key(key);
                let r = unicity_at(v, path);
                path.pop();
                r?;
            }
        }
        Value::Sequence(seq) => {
            let Some((_, indexer)) = UNIQUE.iter().find(|(p, _)| path.matches(p)) else {
                return Ok(());
            };
            let mut out: Vec<Value> = Vec::with_capacity(seq.len());
            let mut keys: indexmap::IndexMap<String, usize> = indexmap::IndexMap::new();
            for (i, entry) in std::mem::take(seq).into_iter().enumerate() {
                path.push_index(i);
                let key = index_key(*indexer, &entry, path);
                path.pop();
                let key = key?;
                match keys.get(&key) {
                    Some(&j) => out[j] = entry,
                    None => {
                        keys.insert(key, out.len());
                        out.push(entry);
                    }
                }
            }
            *seq = out;
        }
        _ => {}
    }
    Ok(())
}

fn index_key(indexer: Indexer, v: &Value, path: &KeyPath) -> Result<String, MergeError> {
    let s = |v: &Value| scalar_string(v);
    match indexer {
        Indexer::KeyValue => match s(v) {
            Some(text) => Ok(text
                .split_once('=')
                .map(|(k, _)| k.to_string())
                .unwrap_or(text)),
            None => Err(MergeError(format!(
                "{path}: unexpected type {}",
                super::yaml::kind(v)
            ))),
        },
        Indexer::Volume => match v {
            Value::Mapping(m) => m
                .get("target")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    MergeError(format!("service volume {path} is missing a mount target"))
                }),
            Value::String(text) => parse_volume(text)
                .map(|v| v.target)
                .map_err(|e| MergeError(format!("{path}: {e}"))),
            _ => Ok(String::new()),
        },
        Indexer::Device => match v {
            Value::Mapping(m) => m
                .get("target")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    MergeError(format!("service device {path} is missing a mount target"))
                }),
            Value::String(text) => {
                let mut parts = text.split(':');
                let first = parts.next().unwrap_or_default();
                Ok(parts.next().unwrap_or(first).to_string())
            }
            _ => Ok(String::new()),
        },
        Indexer::Expose => match v {
            Value::String(_) | Value::Number(_) => Ok(s(v).unwrap_or_default()),
            _ => Err(MergeError(format!(
                "{path}: unsupported expose value {}",
                super::yaml::kind(v)
            ))),
        },
        Indexer::Mount(default) => match v {
            Value::String(text) => Ok(format!("{default}/{text}")),
            Value::Mapping(m) => match m.get("target") {
                Some(t) => Ok(s(t).unwrap_or_default()),
                None => Ok(format!(
                    "{default}/{}",
                    m.get("source").and_then(s).unwrap_or_default()
                )),
            },
            _ => Err(MergeError(format!(
                "{path}: unsupported mount value {}",
                super::yaml::kind(v)
            ))),
        },
        Indexer::Port => match v {
            Value::Number(_) | Value::String(_) => Ok(s(v).unwrap_or_default()),
            Value::Mapping(m) => {
                let target = m.get("target").ok_or_else(|| {
                    MergeError(format!("service ports {path} is missing a target port"))
                })?;
                let get = |k: &str, d: &str| m.get(k).and_then(s).unwrap_or_else(|| d.to_string());
                Ok(format!(
                    "{}:{}:{}/{}",
                    get("host_ip", "0.0.0.0"),
                    get("published", ""),
                    s(target).unwrap_or_default(),
                    get("protocol", "tcp")
                ))
            }
            _ => Ok(String::new()),
        },
        Indexer::EnvFile => match v {
            Value::String(text) => Ok(text.clone()),
            Value::Mapping(m) => m
                .get("path")
                .and_then(s)
                .ok_or_else(|| MergeError(format!("environment path attribute {path} is missing"))),
            _ => Ok(String::new()),
        },
    }
}

/// Removes what `!reset` / `!override` marked from an accumulated tree.
pub fn apply_resets(tree: &mut Value, resets: &[KeyPath]) {
    for reset in resets {
        remove_path(tree, reset.segments());
    }
}

fn remove_path(tree: &mut Value, segs: &[String]) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    match tree {
        Value::Mapping(m) => {
            if rest.is_empty() {
                m.shift_remove(first.as_str());
            } else if let Some(child) = m.get_mut(first.as_str()) {
                remove_path(child, rest);
            }
        }
        Value::Sequence(seq) => {
            let idx = first
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse::<usize>().ok());
            if let Some(i) = idx {
                if rest.is_empty() {
                    // compose-go leaves sequence entries in place (no removal from
                    // sequences yet); the override's own entry still wins by merge.
                } else if let Some(child) = seq.get_mut(i) {
                    remove_path(child, rest);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    fn merged(a: &str, b: &str) -> Value {
        let mut v = merge(y(a), y(b), &KeyPath::root()).unwrap();
        enforce_unicity(&mut v, &KeyPath::root()).unwrap();
        v
    }

    #[test]
    fn scalars_override_and_sequences_append() {
        let v = merged(
            "services:\n  a:\n    image: x\n    cap_add: [A]\n",
            "services:\n  a:\n    image: y\n    cap_add: [B, A]\n",
        );
        assert_eq!(v, y("services:\n  a:\n    image: y\n    cap_add: [A, B]\n"));
    }

    #[test]
    fn command_is_replaced() {
        let v = merged(
            "services:\n  a:\n    command: [a, b]\n",
            "services:\n  a:\n    command: [c]\n",
        );
        assert_eq!(v, y("services:\n  a:\n    command: [c]\n"));
    }

    #[test]
    fn ports_and_volumes_unique() {
        let v = merged(
            "services:\n  a:\n    ports: ['80:80']\n    volumes: ['./a:/data', 'v:/x']\n",
            "services:\n  a:\n    ports: ['80:80']\n    volumes: ['./b:/data']\n",
        );
        assert_eq!(
            v,
            y("services:\n  a:\n    ports: ['80:80']\n    volumes: ['./b:/data', 'v:/x']\n")
        );
    }

    #[test]
    fn type_mismatch_is_an_error() {
        let e = merge(
            y("services:\n  a:\n    build: {context: .}\n    x: {a: 1}\n"),
            y("services:\n  a:\n    x: [1]\n"),
            &KeyPath::root(),
        )
        .unwrap_err();
        assert_eq!(e.0, "cannot override services.a.x");
    }
}
