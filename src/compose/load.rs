//! `load_raw`: the pipeline of compose-go's `loader.loadYamlFile` up to the merged
//! raw tree. Per file and per YAML document: parse → interpolate → include →
//! `!reset` → extends → merge → unicity; then paths are resolved.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_yaml_ng::{Mapping, Value};

use super::error::LoadError;
use super::interpolate::Interpolator;
use super::keypath::KeyPath;
use super::merge::{apply_resets, enforce_unicity, merge};
use super::options::{normalize_project_name, resolve};
use super::paths::{rebase_tree, Rebase};
use super::raw::{ProjectOptions, RawProject, VariableUse};
use super::yaml::{parse_documents, Document};

/// Loads, interpolates and merges the compose files `opts` designates.
pub fn load_raw(opts: &ProjectOptions) -> Result<RawProject, LoadError> {
    let resolved = resolve(opts)?;
    let mut warnings = resolved.warnings.clone();

    let mut parsed: Vec<(PathBuf, Vec<Document>)> = Vec::with_capacity(resolved.files.len());
    for file in &resolved.files {
        let content = read_compose_file(file)?;
        parsed.push((file.clone(), parse_documents(&content, file)?));
    }

    let mut env = resolved.environment.clone();
    let name = project_name(
        &resolved.explicit_name,
        &parsed,
        &resolved.project_dir,
        &env,
        opts.interpolate,
        &mut warnings,
    )?;
    // compose-go exposes the final name to interpolation.
    env.insert("COMPOSE_PROJECT_NAME".to_string(), name.clone());

    let mut loader = Loader {
        env,
        interpolate: opts.interpolate,
        resolve_paths: opts.resolve_paths,
        project_dir: resolved.project_dir.clone(),
        home: opts.os_env.get("HOME").map(PathBuf::from),
        warnings: Vec::new(),
        variables: IndexMap::new(),
        extends_cache: HashMap::new(),
    };
    let mut tree = Value::Mapping(Mapping::new());
    for (file, docs) in parsed {
        tree = loader.process_documents(&file, docs, &resolved.project_dir, tree, &[])?;
    }
    if tree.as_mapping().is_none_or(Mapping::is_empty) {
        return Err(LoadError::EmptyFile);
    }
    default_build_context(&mut tree);
    if opts.resolve_paths {
        let home = loader.home.clone();
        rebase_tree(
            &mut tree,
            &Rebase::Absolute {
                base: &resolved.project_dir,
                home: home.as_deref(),
            },
        );
    }
    for w in loader.warnings.drain(..) {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    Ok(RawProject {
        name,
        working_dir: resolved.project_dir,
        config_files: resolved.files,
        environment: loader.env,
        env_files: resolved.env_files,
        profiles: resolved.profiles,
        tree,
        variables: loader.variables,
        warnings,
    })
}

fn read_compose_file(file: &Path) -> Result<String, LoadError> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| LoadError::io("-", e))?;
        return Ok(s);
    }
    let bytes = std::fs::read(file).map_err(|e| LoadError::io(file, e))?;
    String::from_utf8(bytes).map_err(|_| LoadError::Yaml {
        file: file.to_path_buf(),
        message: "the file is not valid UTF-8".to_string(),
    })
}

/// `-p`/`COMPOSE_PROJECT_NAME` > the last `name:` of the files (interpolated,
/// then normalized) > the project directory's base name, normalized.
fn project_name(
    explicit: &Option<String>,
    parsed: &[(PathBuf, Vec<Document>)],
    project_dir: &Path,
    env: &IndexMap<String, String>,
    interpolate: bool,
    warnings: &mut Vec<String>,
) -> Result<String, LoadError> {
    if let Some(n) = explicit {
        return Ok(n.clone());
    }
    let mut from_files: Option<(&Path, String)> = None;
    for (file, docs) in parsed {
        for d in docs {
            if let Some(Value::String(n)) = d.value.get("name") {
                if !n.is_empty() {
                    from_files = Some((file, n.clone()));
                }
            }
        }
    }
    if let Some((file, raw)) = from_files {
        let value = if interpolate {
            let lookup = |k: &str| env.get(k).cloned();
            let mut i = Interpolator::new(&lookup);
            i.substitute(&raw).map_err(|e| LoadError::Interpolation {
                file: file.to_path_buf(),
                message: super::interpolate::path_error(&KeyPath::root().key("name"), &e),
            })?
        } else {
            raw
        };
        let n = normalize_project_name(&value);
        if !n.is_empty() {
            return Ok(n);
        }
    }
    let base = project_dir
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let real = std::fs::canonicalize(project_dir).ok();
    if let Some(real) = real.as_ref().and_then(|r| r.file_name()) {
        if real.to_string_lossy() != base {
            warnings.push(format!(
                "project has been loaded without an explicit name from a symlink. Using name {base:?}"
            ));
        }
    }
    let n = normalize_project_name(&base);
    if n.is_empty() {
        return Err(LoadError::EmptyProjectName);
    }
    Ok(n)
}

/// State shared while loading one project (or one included project).
pub(crate) struct Loader {
    /// The environment used for interpolation.
    pub env: IndexMap<String, String>,
    /// False with `--no-interpolate`.
    pub interpolate: bool,
    /// False with `--no-path-resolution`.
    pub resolve_paths: bool,
    /// The project directory.
    pub project_dir: PathBuf,
    /// `$HOME`, for `~`.
    pub home: Option<PathBuf>,
    /// Warnings collected so far.
    pub warnings: Vec<String>,
    /// Variables referenced so far.
    pub variables: IndexMap<String, VariableUse>,
    /// Services of files read for `extends`, by absolute path.
    pub extends_cache: HashMap<PathBuf, Mapping>,
}

impl Loader {
    /// Folds the documents of one file into `tree`. `base_dir` is the directory
    /// `extends.file` and `include` paths are relative to; `included` the chain of
    /// files including this one (for cycles).
    pub fn process_documents(
        &mut self,
        file: &Path,
        docs: Vec<Document>,
        base_dir: &Path,
        mut tree: Value,
        included: &[PathBuf],
    ) -> Result<Value, LoadError> {
        let mut chain = included.to_vec();
        chain.push(file.to_path_buf());
        for doc in docs {
            let mut cfg = doc.value;
            if !cfg.is_mapping() {
                return Err(LoadError::invalid(
                    file,
                    "(root)",
                    format!(
                        "top-level object must be a mapping, found {}",
                        super::yaml::kind(&cfg)
                    ),
                ));
            }
            self.interpolate_value(&mut cfg, file)?;
            self.apply_include(&mut cfg, base_dir, &chain)?;
            apply_resets(&mut tree, &doc.resets);
            self.apply_extends(&mut cfg, file, base_dir, &doc.resets)?;
            tree = merge(tree, cfg, &KeyPath::root()).map_err(|e| LoadError::Merge {
                file: file.to_path_buf(),
                path: e.0.trim_start_matches("cannot override ").to_string(),
            })?;
            enforce_unicity(&mut tree, &KeyPath::root()).map_err(|e| LoadError::Entry {
                file: file.to_path_buf(),
                message: e.0,
            })?;
            if let Some(m) = tree.as_mapping_mut() {
                if m.shift_remove("version").is_some() {
                    let w = format!(
                        "{}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
                        file.display()
                    );
                    if !self.warnings.contains(&w) {
                        self.warnings.push(w);
                    }
                }
            }
        }
        Ok(tree)
    }

    /// Interpolates one document (if enabled), collecting warnings and variables.
    pub fn interpolate_value(&mut self, cfg: &mut Value, file: &Path) -> Result<(), LoadError> {
        if !self.interpolate {
            let none = |_: &str| None;
            let mut i = Interpolator::new(&none);
            i.collect_variables(cfg);
            self.merge_variables(i.variables);
            return Ok(());
        }
        let (result, warnings, variables) = {
            let env = &self.env;
            let lookup = |k: &str| env.get(k).cloned();
            let mut i = Interpolator::new(&lookup);
            let r = i.interpolate_tree(cfg, &KeyPath::root());
            (r, i.warnings, i.variables)
        };
        for w in warnings {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        self.merge_variables(variables);
        result.map_err(|message| LoadError::Interpolation {
            file: file.to_path_buf(),
            message,
        })
    }

    /// Adds one document's variable uses to the project's (a later file's
    /// default wins, as its value would).
    fn merge_variables(&mut self, variables: IndexMap<String, VariableUse>) {
        for (k, v) in variables {
            let e = self.variables.entry(k).or_default();
            e.required |= v.required;
            if v.default_value.is_some() {
                e.default_value = v.default_value;
            }
            if v.alternate_value.is_some() {
                e.alternate_value = v.alternate_value;
            }
        }
    }
}

/// A `build` without `context` builds the project directory: compose-go sets
/// that default while loading, before paths are resolved, so even
/// `config --no-normalize` prints it (as an absolute path when resolved).
fn default_build_context(tree: &mut Value) {
    let Some(Value::Mapping(services)) = tree.get_mut("services") else {
        return;
    };
    for (_, svc) in services.iter_mut() {
        if let Some(Value::Mapping(build)) = svc.get_mut("build") {
            if !build.contains_key("context") {
                build.insert(Value::from("context"), Value::from("."));
            }
        }
    }
}
