//! YAML to a raw tree: anchors, aliases and `<<` merge keys resolved, several
//! documents returned in order, `!reset` / `!override` tags collected, keys made
//! strings. serde_yaml_ng resolves scalars the YAML 1.2 way (`yes`/`no` stay
//! strings), rejects duplicate keys and bounds alias expansion ("repetition
//! limit exceeded"), which is what compose-go's own node-visit cap is for.

use std::path::Path;

use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

use super::depth;
use super::error::LoadError;
use super::keypath::KeyPath;

/// One YAML document of a compose file, tags already taken out.
#[derive(Debug, Clone)]
pub struct Document {
    /// The tree, with `!reset` nodes removed and `!override` nodes unwrapped.
    pub value: Value,
    /// Paths tagged `!reset` or `!override`: removed from what earlier files built
    /// before this document is merged over it.
    pub resets: Vec<KeyPath>,
}

/// Parses every document of `content`; empty documents are skipped.
pub fn parse_documents(content: &str, file: &Path) -> Result<Vec<Document>, LoadError> {
    // Before the parser, whose time grows with the square of the nesting depth.
    depth::check(content, depth::MAX_DEPTH).map_err(|at| LoadError::Yaml {
        file: file.to_path_buf(),
        message: format!(
            "collections nested more than {} levels deep at line {} column {}",
            depth::MAX_DEPTH,
            at.line,
            at.column
        ),
    })?;
    let mut docs = Vec::new();
    for de in serde_yaml_ng::Deserializer::from_str(content) {
        let raw = Value::deserialize(de).map_err(|e| yaml_error(file, content, &e))?;
        if raw.is_null() {
            continue;
        }
        let mut value = raw;
        value
            .apply_merge()
            .map_err(|e| yaml_error(file, content, &e))?;
        let mut resets = Vec::new();
        if !clean(&mut value, &mut KeyPath::root(), &mut resets, file)? {
            value = Value::Null;
        }
        docs.push(Document { value, resets });
    }
    Ok(docs)
}

fn yaml_error(file: &Path, content: &str, e: &serde_yaml_ng::Error) -> LoadError {
    let text = e.to_string();
    // serde_yaml_ng says `path: duplicate entry with key "x" at line L column C`
    // (L being where the mapping starts); compose-go says
    // `line N: mapping key "x" already defined at line M`.
    let message = match (text.split_once("duplicate entry with key "), e.location()) {
        (Some((_, rest)), Some(loc)) => {
            let key = rest.split(" at line ").next().unwrap_or(rest);
            match find_duplicate(content, loc.line(), loc.column(), key.trim_matches('"')) {
                Some((first, second)) => {
                    format!("line {second}: mapping key {key} already defined at line {first}")
                }
                None => format!("line {}: mapping key {key} already defined", loc.line()),
            }
        }
        _ => text,
    };
    LoadError::Yaml {
        file: file.to_path_buf(),
        message,
    }
}

/// Lines (1-based) of the first two `key:` entries at the mapping's indentation,
/// starting from the mapping's first line.
fn find_duplicate(content: &str, line: usize, column: usize, key: &str) -> Option<(usize, usize)> {
    let indent = column.saturating_sub(1);
    let mut found = Vec::new();
    for (i, l) in content.lines().enumerate().skip(line.saturating_sub(1)) {
        let trimmed = l.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let this_indent = l.len() - trimmed.len();
        if this_indent < indent && !found.is_empty() {
            break;
        }
        if this_indent != indent {
            continue;
        }
        let name = trimmed.trim_start_matches("- ");
        let bare = name
            .strip_prefix(key)
            .or_else(|| name.strip_prefix(&format!("\"{key}\"")));
        if bare.is_some_and(|r| r.trim_start().starts_with(':')) {
            found.push(i + 1);
            if found.len() == 2 {
                return Some((found[0], found[1]));
            }
        }
    }
    None
}

/// Strips tags (recording `!reset`/`!override` paths) and turns scalar keys into
/// strings, in place; `false` means the node was `!reset` and must disappear.
/// In place because nearly every node is clean already: rebuilding the whole
/// tree (a new mapping per node, every key hashed again) cost a tenth of loading
/// a large project.
fn clean(
    value: &mut Value,
    path: &mut KeyPath,
    resets: &mut Vec<KeyPath>,
    file: &Path,
) -> Result<bool, LoadError> {
    match value {
        Value::Tagged(tagged) => {
            match tagged.tag.to_string().as_str() {
                "!reset" => {
                    resets.push(path.clone());
                    return Ok(false);
                }
                "!override" => resets.push(path.clone()),
                // Other tags (`!!str`, custom ones) carry no meaning for compose.
                _ => {}
            }
            let inner = std::mem::take(&mut tagged.value);
            *value = inner;
            clean(value, path, resets, file)
        }
        Value::Sequence(seq) => {
            let mut failed = None;
            let mut i = 0;
            seq.retain_mut(|item| {
                if failed.is_some() {
                    return true;
                }
                path.push_index(i);
                i += 1;
                let cleaned = clean(item, path, resets, file);
                path.pop();
                cleaned.unwrap_or_else(|e| {
                    failed = Some(e);
                    true
                })
            });
            failed.map_or(Ok(true), Err)
        }
        Value::Mapping(map) if map.keys().all(Value::is_string) => {
            // Distinct string keys: nothing to convert, no duplicate possible.
            let mut failed = None;
            map.retain(|k, v| {
                if failed.is_some() {
                    return true;
                }
                path.push_key(k.as_str().unwrap_or_default());
                let cleaned = clean(v, path, resets, file);
                path.pop();
                cleaned.unwrap_or_else(|e| {
                    failed = Some(e);
                    true
                })
            });
            failed.map_or(Ok(true), Err)
        }
        Value::Mapping(map) => {
            // Some keys are numbers, booleans, null or tagged: rebuild the mapping
            // with string keys, rejecting keys that become equal (`1` and "1").
            let old = std::mem::take(map);
            for (k, mut v) in old {
                let key = key_string(&k).ok_or_else(|| {
                    LoadError::invalid(
                        file,
                        path.to_string(),
                        "non-string key: expected a scalar key, found a mapping or sequence",
                    )
                })?;
                path.push_key(&key);
                let cleaned = clean(&mut v, path, resets, file);
                path.pop();
                if cleaned? {
                    if map.contains_key(key.as_str()) {
                        return Err(LoadError::Yaml {
                            file: file.to_path_buf(),
                            message: format!("mapping key {key:?} already defined at {path}"),
                        });
                    }
                    map.insert(Value::String(key), v);
                }
            }
            Ok(true)
        }
        _ => Ok(true),
    }
}

/// The string form of a mapping key, as compose-go's `convertToStringKeysRecursive`.
pub fn key_string(k: &Value) -> Option<String> {
    match k {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_string()),
        Value::Tagged(t) => key_string(&t.value),
        Value::Sequence(_) | Value::Mapping(_) => None,
    }
}

/// The scalar as compose-go prints it with `%v`, or `None` for collections.
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Tagged(t) => scalar_string(&t.value),
        Value::Sequence(_) | Value::Mapping(_) => None,
    }
}

/// A short name for a value's kind, for "expected …, found …" messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a sequence",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// `v[name]` for a mapping of a few keys, such as a service. A mapping's own
/// lookup hashes the name (SipHash) to find it; canonicalizing and checking a
/// service ask for some seventy names, most of them absent, and comparing each
/// with a handful of keys costs a fraction of that: hashing them was most of the
/// time a no-op `up` spent on its compose model.
pub fn attr<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let mut v = v;
    while let Value::Tagged(t) = v {
        v = &t.value;
    }
    let Value::Mapping(m) = v else { return None };
    m.iter().find_map(|(k, v)| is_key(k, name).then_some(v))
}

/// [`attr`] for changing the value.
pub fn attr_mut<'a>(m: &'a mut Mapping, name: &str) -> Option<&'a mut Value> {
    m.iter_mut().find_map(|(k, v)| is_key(k, name).then_some(v))
}

/// Whether a mapping's key is `name`, as the mapping's own lookup compares.
fn is_key(k: &Value, name: &str) -> bool {
    matches!(k, Value::String(s) if s == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<Document>, LoadError> {
        parse_documents(s, Path::new("compose.yaml"))
    }

    #[test]
    fn yaml_1_2_scalars_stay_strings() {
        let d = parse("a: yes\nb: no\nc: on\nd: true\ne: 1\n").unwrap();
        let v = &d[0].value;
        assert_eq!(v["a"], Value::String("yes".into()));
        assert_eq!(v["b"], Value::String("no".into()));
        assert_eq!(v["c"], Value::String("on".into()));
        assert_eq!(v["d"], Value::Bool(true));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let d = parse("x-base: &b\n  image: a\n  env: 1\nservices:\n  web:\n    <<: *b\n    env: 2\n  db: *b\n").unwrap();
        let v = &d[0].value;
        assert_eq!(v["services"]["web"]["image"], Value::String("a".into()));
        assert_eq!(v["services"]["web"]["env"], Value::Number(2.into()));
        assert_eq!(v["services"]["db"]["image"], Value::String("a".into()));
    }

    #[test]
    fn explicitly_tagged_merge_key_merges() {
        // `!!merge <<: *b` is the YAML 1.1 merge key with its tag spelled out,
        // which go-yaml (compose-go) honours as `<<`.
        let d =
            parse("x-base: &b\n  image: a\nservices:\n  web:\n    !!merge <<: *b\n    env: 2\n")
                .unwrap();
        let web = &d[0].value["services"]["web"];
        assert_eq!(web["image"], Value::String("a".into()));
        assert!(web.get("<<").is_none());
    }

    #[test]
    fn duplicate_keys_are_rejected_with_line() {
        let e = parse("services:\n  a:\n    image: x\n    image: y\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("compose.yaml"), "{e}");
        assert!(
            e.contains("line 4: mapping key \"image\" already defined at line 3"),
            "{e}"
        );
        assert!(e.contains("already defined"), "{e}");
    }

    #[test]
    fn reset_and_override_tags_are_recorded() {
        let d =
            parse("services:\n  a:\n    command: !reset []\n    ports: !override\n      - 80\n")
                .unwrap();
        let doc = &d[0];
        assert!(doc.value["services"]["a"].get("command").is_none());
        assert_eq!(
            doc.value["services"]["a"]["ports"][0],
            Value::Number(80.into())
        );
        let r: Vec<String> = doc.resets.iter().map(|p| p.to_string()).collect();
        assert_eq!(r, vec!["services.a.command", "services.a.ports"]);
    }

    #[test]
    fn multi_documents_in_order_and_empty_skipped() {
        let d = parse("a: 1\n---\n# nothing\n---\nb: 2\n").unwrap();
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn alias_bomb_is_bounded() {
        let mut s = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let mut prev = 'a';
        for c in 'b'..='j' {
            s.push_str(&format!("{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
            prev = c;
        }
        assert!(parse(&s).is_err());
    }
}
