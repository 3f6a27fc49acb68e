//! `extends` (compose-go `loader/extends.go`): a service starts from another one
//! of the same file or of another file, recursively; the local definition is
//! merged over the base with the usual rules; cycles are errors. Relative paths
//! of a service taken from another file are rebased onto that file's directory.

use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::error::LoadError;
use super::keypath::KeyPath;
use super::load::Loader;
use super::merge::{apply_resets, enforce_unicity, merge};
use super::paths::{clean, rebase_service, Rebase};
use super::yaml::{kind, parse_documents};

/// How many services one `extends` chain may traverse.
const MAX_EXTENDS_DEPTH: usize = 200;

/// One `extends` step being resolved, for cycle detection.
type Step = (PathBuf, String);

impl Loader {
    /// Resolves `extends` of every service of one document.
    pub fn apply_extends(
        &mut self,
        cfg: &mut Value,
        file: &Path,
        base_dir: &Path,
        resets: &[KeyPath],
    ) -> Result<(), LoadError> {
        let Some(Value::Mapping(services)) = cfg.get_mut("services") else {
            return Ok(());
        };
        let names: Vec<String> = services
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        for name in names {
            let mut steps: Vec<Step> = Vec::new();
            self.extend_service(&name, services, file, base_dir, resets, &mut steps)?;
        }
        Ok(())
    }

    /// Resolves the `extends` of the service `name` of `services` and writes the
    /// result back into `services`, where a caller wanting it as a base reads it.
    fn extend_service(
        &mut self,
        name: &str,
        services: &mut Mapping,
        file: &Path,
        base_dir: &Path,
        resets: &[KeyPath],
        steps: &mut Vec<Step>,
    ) -> Result<(), LoadError> {
        let path = KeyPath::root().key("services").key(name);
        let service = match services.get(name) {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Mapping(m)) => m.clone(),
            Some(other) => {
                return Err(LoadError::invalid(
                    file,
                    path.to_string(),
                    format!("expected a mapping, found {}", kind(other)),
                ))
            }
        };
        let Some(ext) = service.get("extends") else {
            return Ok(());
        };
        let ext_path = path.key("extends");
        let (reference, ext_file) = match ext {
            Value::String(s) => (s.clone(), None),
            Value::Mapping(m) => {
                let svc = match m.get("service") {
                    Some(Value::String(s)) => s.clone(),
                    other => {
                        return Err(LoadError::invalid(
                            file,
                            ext_path.key("service").to_string(),
                            format!(
                                "expected a service name, found {}",
                                other.map(kind).unwrap_or("nothing")
                            ),
                        ))
                    }
                };
                let f = match m.get("file") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(f)) => Some(f.clone()),
                    Some(other) => {
                        return Err(LoadError::invalid(
                            file,
                            ext_path.key("file").to_string(),
                            format!("expected a file path, found {}", kind(other)),
                        ))
                    }
                };
                (svc, f)
            }
            other => {
                return Err(LoadError::invalid(
                    file,
                    ext_path.to_string(),
                    format!(
                        "expected a service name or a mapping, found {}",
                        kind(other)
                    ),
                ))
            }
        };

        // Bounded so that a generated file cannot exhaust the stack.
        if steps.len() >= MAX_EXTENDS_DEPTH {
            return Err(LoadError::invalid(
                file,
                ext_path.to_string(),
                format!("extends chain deeper than {MAX_EXTENDS_DEPTH} services"),
            ));
        }
        let step: Step = (file.to_path_buf(), name.to_string());
        if steps.contains(&step) {
            let mut lines: Vec<String> = steps
                .iter()
                .map(|(f, s)| format!("{s} in {}", f.display()))
                .collect();
            lines.push(format!("{name} in {}", file.display()));
            return Err(LoadError::ExtendsCycle(lines));
        }
        steps.push(step);

        let base = match ext_file {
            Some(f) => {
                let target = if Path::new(&f).is_absolute() {
                    clean(Path::new(&f))
                } else {
                    clean(&base_dir.join(&f))
                };
                let mut other = self.extended_services(&target)?;
                if !other.contains_key(reference.as_str()) {
                    return Err(LoadError::ExtendsNotFound {
                        file: target,
                        service: reference,
                    });
                }
                let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
                self.extend_service(&reference, &mut other, &target, &dir, &[], steps)?;
                // `other` is this call's own copy of the file's services.
                other.swap_remove(reference.as_str())
            }
            None => {
                if !services.contains_key(reference.as_str()) {
                    return Err(LoadError::ExtendsNotFound {
                        file: file.to_path_buf(),
                        service: reference,
                    });
                }
                self.extend_service(&reference, services, file, base_dir, resets, steps)?;
                services.get(reference.as_str()).cloned()
            }
        };
        steps.pop();

        let mut merged = match base {
            None | Some(Value::Null) => Value::Mapping(service),
            Some(base) => {
                // `!reset` in the extending service removes from the base too.
                let mut wrapped = Mapping::new();
                let mut inner = Mapping::new();
                inner.insert(Value::String(name.to_string()), base);
                wrapped.insert("services".into(), Value::Mapping(inner));
                let mut wrapped = Value::Mapping(wrapped);
                apply_resets(&mut wrapped, resets);
                let base = wrapped
                    .get_mut("services")
                    .and_then(|s| s.get_mut(name))
                    .map(std::mem::take)
                    .unwrap_or(Value::Null);
                let mut m =
                    merge(base, Value::Mapping(service), &path).map_err(|e| LoadError::Merge {
                        file: file.to_path_buf(),
                        path: e.0.trim_start_matches("cannot override ").to_string(),
                    })?;
                enforce_unicity(&mut m, &path).map_err(|e| LoadError::Entry {
                    file: file.to_path_buf(),
                    message: e.0,
                })?;
                m
            }
        };
        if let Value::Mapping(m) = &mut merged {
            m.shift_remove("extends");
        }
        services.insert(Value::String(name.to_string()), merged);
        Ok(())
    }

    /// The services of a file read for `extends`: interpolated, its documents
    /// merged, its relative paths rebased onto its own directory. Cached.
    fn extended_services(&mut self, target: &Path) -> Result<Mapping, LoadError> {
        if let Some(s) = self.extends_cache.get(target) {
            return Ok(s.clone());
        }
        let bytes = std::fs::read(target).map_err(|e| LoadError::io(target, e))?;
        let content = String::from_utf8_lossy(&bytes);
        let mut tree = Value::Mapping(Mapping::new());
        for doc in parse_documents(&content, target)? {
            let mut cfg = doc.value;
            self.interpolate_value(&mut cfg, target)?;
            apply_resets(&mut tree, &doc.resets);
            tree = merge(tree, cfg, &KeyPath::root()).map_err(|e| LoadError::Merge {
                file: target.to_path_buf(),
                path: e.0.trim_start_matches("cannot override ").to_string(),
            })?;
        }
        let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut services = match tree.get_mut("services").map(std::mem::take) {
            Some(Value::Mapping(m)) => m,
            _ => Mapping::new(),
        };
        for (_, svc) in services.iter_mut() {
            // Nested `extends.file` must stay findable: always absolute.
            let nested = svc
                .get("extends")
                .and_then(|e| e.get("file"))
                .and_then(Value::as_str)
                .map(|f| {
                    Rebase::Absolute {
                        base: &dir,
                        home: None,
                    }
                    .apply(f)
                });
            let rb = if self.resolve_paths {
                Rebase::Absolute {
                    base: &dir,
                    home: self.home.as_deref(),
                }
            } else {
                Rebase::Relative {
                    from: &dir,
                    project: &self.project_dir,
                }
            };
            rebase_service(svc, &rb);
            if let (Some(f), Some(Value::Mapping(e))) = (nested, svc.get_mut("extends")) {
                e.insert("file".into(), Value::String(f));
            }
        }
        self.extends_cache
            .insert(target.to_path_buf(), services.clone());
        Ok(services)
    }
}
