//! `env_file` resolution: the files' variables become the service's
//! environment, `environment:` wins, and `env_file` is dropped
//! (compose-go `WithServicesEnvironmentResolved`, as `docker compose config` does).
//!

use std::collections::BTreeMap;

use crate::compose::model::{Project, ServiceConfig};
use crate::compose::ModelError;

/// Merges every enabled service's env files into its environment.
pub fn resolve_services_environment(project: &mut Project) -> Result<(), ModelError> {
    resolve(project, true)
}

/// Merges env files and label files as [`resolve_services_environment`] does,
/// keeping `env_file` and `label_file` in the model (compose-go's loader
/// without `WithDiscardEnvFiles`, which `config --no-normalize` prints).
pub fn resolve_keeping_files(project: &mut Project) -> Result<(), ModelError> {
    resolve(project, false)
}

fn resolve(project: &mut Project, discard: bool) -> Result<(), ModelError> {
    let project_env = project.environment.clone();
    // Paths left relative (`--no-path-resolution`) are the project directory's.
    let base = project.working_dir.clone();
    for service in project.services.values_mut() {
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for ef in &service.env_files {
            let text = match std::fs::read_to_string(base.join(&ef.path)) {
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
        if discard {
            service.env_files.clear();
        }
        resolve_label_files(service, &base, discard)?;
        // Keys still without a value stay null: compose-go's `OverrideBy`
        // puts them back, and the engine then leaves them unset.
    }
    Ok(())
}

/// Merges `label_file` contents under the service's own labels and drops
/// `label_file` (compose-go `WithServicesLabelsResolved`).
fn resolve_label_files(
    service: &mut ServiceConfig,
    base: &std::path::Path,
    discard: bool,
) -> Result<(), ModelError> {
    if service.label_files.is_empty() {
        return Ok(());
    }
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for path in &service.label_files {
        let text = std::fs::read_to_string(base.join(path))
            .map_err(|e| ModelError::EnvFile(format!("label file {path} not found: {e}")))?;
        let lookup = |k: &str| labels.get(k).cloned();
        let parsed = parse_env_file(&text, false, &lookup)
            .map_err(|e| ModelError::EnvFile(format!("failed to read {path}: {e}")))?;
        labels.extend(parsed);
    }
    labels.extend(std::mem::take(&mut service.labels));
    service.labels = labels;
    if discard {
        service.label_files.clear();
    }
    Ok(())
}

/// Parses dotenv text; bare `KEY` lines take `lookup(KEY)` or are left out.
/// `raw` (`format: raw`) takes every value literally: no quotes, no `${}`.
pub fn parse_env_file(
    text: &str,
    raw: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, String> {
    if !raw {
        // The same dotenv reader as `.env` files, so both read alike.
        let mut warnings = vec![];
        return super::dotenv::parse(text, lookup, &mut warnings).map(|m| m.into_iter().collect());
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.split_once('=') {
            Some((k, v)) => {
                let key = k.trim();
                if key.contains(char::is_whitespace) {
                    return Err(format!("line {}: key cannot contain a space", n + 1));
                }
                out.push((key.to_string(), v.to_string()));
            }
            None => {
                let key = trimmed.trim();
                if let Some(v) = lookup(key) {
                    out.push((key.to_string(), v));
                }
            }
        }
    }
    Ok(out)
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
