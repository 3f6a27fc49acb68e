//! `env_file` resolution: the files' variables become the service's
//! environment, `environment:` wins, and `env_file` is dropped
//! (compose-go `WithServicesEnvironmentResolved`, as `docker compose config` does).
//!
//! The parser here is a compact dotenv reader; when the raw loader's full
//! dotenv module is merged, `parse_env_file` should delegate to it.

use std::collections::BTreeMap;

use crate::compose::model::{Project, ServiceConfig};
use crate::compose::ModelError;

/// Merges every enabled service's env files into its environment.
pub fn resolve_services_environment(project: &mut Project) -> Result<(), ModelError> {
    let project_env = project.environment.clone();
    for service in project.services.values_mut() {
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for ef in &service.env_files {
            let text = match std::fs::read_to_string(&ef.path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !ef.required => continue,
                Err(e) => {
                    return Err(ModelError::EnvFile(format!(
                        "env file {} not found: {e}",
                        ef.path
                    )))
                }
            };
            let service_env = service.environment.clone();
            let lookup = |k: &str| -> Option<String> {
                project_env
                    .get(k)
                    .cloned()
                    .or_else(|| service_env.get(k).cloned().flatten())
                    .or_else(|| env.get(k).cloned())
            };
            let parsed = parse_env_file(&text, ef.format == "raw", &lookup)
                .map_err(|e| ModelError::EnvFile(format!("failed to read {}: {e}", ef.path)))?;
            env.extend(parsed);
        }
        if !service.env_files.is_empty() {
            let mut merged: BTreeMap<String, Option<String>> =
                env.into_iter().map(|(k, v)| (k, Some(v))).collect();
            merged.extend(std::mem::take(&mut service.environment));
            service.environment = merged;
        }
        service.env_files.clear();
        resolve_label_files(service)?;
        // Keys still without a value stay null: compose-go's `OverrideBy`
        // puts them back, and the engine then leaves them unset.
    }
    Ok(())
}

/// Merges `label_file` contents under the service's own labels and drops
/// `label_file` (compose-go `WithServicesLabelsResolved`).
fn resolve_label_files(service: &mut ServiceConfig) -> Result<(), ModelError> {
    if service.label_files.is_empty() {
        return Ok(());
    }
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for path in &service.label_files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ModelError::EnvFile(format!("label file {path} not found: {e}")))?;
        let lookup = |k: &str| labels.get(k).cloned();
        let parsed = parse_env_file(&text, false, &lookup)
            .map_err(|e| ModelError::EnvFile(format!("failed to read {path}: {e}")))?;
        labels.extend(parsed);
    }
    labels.extend(std::mem::take(&mut service.labels));
    service.labels = labels;
    service.label_files.clear();
    Ok(())
}

/// Parses dotenv text; bare `KEY` lines take `lookup(KEY)` or are left out.
pub fn parse_env_file(
    text: &str,
    raw: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let trimmed = trimmed.strip_prefix("export ").unwrap_or(trimmed);
        let sep = trimmed.find(['=', ':']);
        let Some(sep) = sep else {
            let key = trimmed.trim();
            if key.contains(char::is_whitespace) {
                return Err(format!("line {}: key cannot contain a space", n + 1));
            }
            if let Some(v) = lookup(key) {
                out.push((key.to_string(), v));
            }
            continue;
        };
        let key = trimmed[..sep].trim().to_string();
        if key.contains(char::is_whitespace) {
            return Err(format!("line {}: key cannot contain a space", n + 1));
        }
        let rest = trimmed[sep + 1..].trim_start();
        if raw {
            out.push((key, rest.to_string()));
            continue;
        }
        let value = if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let mut body = rest[1..].to_string();
            while !closes(&body, q) {
                match lines.next() {
                    Some((_, l)) => {
                        body.push('\n');
                        body.push_str(l);
                    }
                    None => return Err(format!("line {}: unterminated quoted value", n + 1)),
                }
            }
            let end = closing_index(&body, q).unwrap_or(body.len());
            let inner = &body[..end];
            if q == '\'' {
                inner.replace("\\'", "'")
            } else {
                let unescaped = unescape_double(inner);
                expand(&unescaped, lookup, &out)
            }
        } else {
            let v = match rest.find(" #") {
                Some(i) => &rest[..i],
                None => rest,
            };
            expand(v.trim_end(), lookup, &out)
        };
        out.retain(|(k, _)| *k != key);
        out.push((key, value));
    }
    Ok(out)
}

fn closing_index(body: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
            continue;
        }
        if c == q {
            return Some(i);
        }
    }
    None
}

fn closes(body: &str, q: char) -> bool {
    closing_index(body, q).is_some()
}

fn unescape_double(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('$') => out.push_str("\\$"),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Expands `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}` against the lookup, then earlier lines.
fn expand(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    earlier: &[(String, String)],
) -> String {
    let get = |k: &str| -> Option<String> {
        lookup(k).or_else(|| {
            earlier
                .iter()
                .rev()
                .find(|(ek, _)| ek == k)
                .map(|(_, v)| v.clone())
        })
    };
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && chars.get(i + 1) == Some(&'$') {
            out.push('$');
            i += 2;
            continue;
        }
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'{') {
            if let Some(end) = chars[i + 2..].iter().position(|c| *c == '}') {
                let inner: String = chars[i + 2..i + 2 + end].iter().collect();
                let (name, default, empty_too) = if let Some((n, d)) = inner.split_once(":-") {
                    (n.to_string(), Some(d.to_string()), true)
                } else if let Some((n, d)) = inner.split_once('-') {
                    (n.to_string(), Some(d.to_string()), false)
                } else {
                    (inner.clone(), None, false)
                };
                let v = get(&name);
                let v = match (v, default) {
                    (Some(v), Some(d)) if v.is_empty() && empty_too => d,
                    (Some(v), _) => v,
                    (None, Some(d)) => d,
                    (None, None) => String::new(),
                };
                out.push_str(&v);
                i += 3 + end;
                continue;
            }
        }
        let name_len = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
            .count();
        if name_len == 0 {
            out.push('$');
            i += 1;
            continue;
        }
        let name: String = chars[i + 1..i + 1 + name_len].iter().collect();
        out.push_str(&get(&name).unwrap_or_default());
        i += 1 + name_len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let text = "# c\nexport A=1\nB = two words # comment\nC='x y'\nD=\"line\\nnext\"\nE=${A}-$B\nF\nG: yaml\n";
        let lookup = |k: &str| (k == "F").then(|| "from-os".to_string());
        let got = parse_env_file(text, false, &lookup).unwrap();
        let m: BTreeMap<_, _> = got.into_iter().collect();
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two words");
        assert_eq!(m["C"], "x y");
        assert_eq!(m["D"], "line\nnext");
        assert_eq!(m["E"], "1-two words");
        assert_eq!(m["F"], "from-os");
        assert_eq!(m["G"], "yaml");
    }

    #[test]
    fn rejects_space_in_key() {
        assert!(parse_env_file("A B=1\n", false, &|_| None).is_err());
    }
}
