//! Which keys of a service changed between the container's config and the file's.

use serde_json::Value;

/// Top-level keys whose values differ between `old` and `new` (both JSON objects),
/// in sorted order; nested changes are named by their path (`deploy.resources`).
pub fn changed_keys(old: &Value, new: &Value) -> Vec<String> {
    let mut out = vec![];
    walk("", old, new, 0, &mut out);
    out.sort();
    out
}

fn walk(prefix: &str, old: &Value, new: &Value, depth: usize, out: &mut Vec<String>) {
    if old == new {
        return;
    }
    match (old, new) {
        // Two levels are enough to point a person at the right key without
        // drowning them in list indexes.
        (Value::Object(a), Value::Object(b)) if depth < 2 => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(
                    &path,
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    depth + 1,
                    out,
                );
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_changed_keys() {
        let old = json!({"image": "a", "environment": {"A": "1", "B": "2"}, "ports": [1]});
        let new = json!({"image": "a", "environment": {"A": "1", "B": "3"}, "ports": [1, 2], "init": true});
        assert_eq!(
            changed_keys(&old, &new),
            vec!["environment.B", "init", "ports"]
        );
        assert!(changed_keys(&old, &old).is_empty());
    }
}
