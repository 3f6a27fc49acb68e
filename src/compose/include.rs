//! `include` (compose-go `loader/include.go`): each entry is loaded as its own
//! project — its own project directory (default: the included file's), its own
//! `.env` or `env_file`, paths always resolved — and its resources are copied
//! into the including file; a resource defined on both sides is merged, the
//! including side winning. A file including itself, even indirectly, is an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_yaml_ng::{Mapping, Value};

use super::dotenv::read_env_files;
use super::error::LoadError;
use super::keypath::KeyPath;
use super::load::Loader;
use super::merge::merge;
use super::paths::{clean, rebase_tree, Rebase};
use super::yaml::{kind, parse_documents};

/// One `include` entry in long form.
struct Include {
    paths: Vec<String>,
    project_directory: Option<String>,
    env_files: Vec<String>,
}

/// How many files one `include` chain may traverse.
const MAX_INCLUDE_DEPTH: usize = 64;

const RESOURCES: [&str; 6] = [
    "services", "volumes", "networks", "secrets", "configs", "models",
];

fn string_list(v: &Value, file: &Path, path: &KeyPath) -> Result<Vec<String>, LoadError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Sequence(seq) => seq
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(LoadError::invalid(
                    file,
                    path.index(i).to_string(),
                    format!("expected a string, found {}", kind(other)),
                )),
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Err(LoadError::invalid(
            file,
            path.to_string(),
            format!(
                "expected a string or a list of strings, found {}",
                kind(other)
            ),
        )),
    }
}

fn parse_includes(v: &Value, file: &Path) -> Result<Vec<Include>, LoadError> {
    let root = KeyPath::root().key("include");
    let Value::Sequence(seq) = v else {
        return Err(LoadError::invalid(
            file,
            "include",
            format!("expected a sequence, found {}", kind(v)),
        ));
    };
    let mut out = Vec::new();
    for (i, item) in seq.iter().enumerate() {
        let p = root.index(i);
        match item {
            Value::String(s) => out.push(Include {
                paths: vec![s.clone()],
                project_directory: None,
                env_files: Vec::new(),
            }),
            Value::Mapping(m) => {
                let paths = match m.get("path") {
                    Some(v) => string_list(v, file, &p.key("path"))?,
                    None => Vec::new(),
                };
                if paths.is_empty() {
                    return Err(LoadError::invalid(
                        file,
                        p.key("path").to_string(),
                        "expected a path, found nothing",
                    ));
                }
                let project_directory = match m.get("project_directory") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(other) => {
                        return Err(LoadError::invalid(
                            file,
                            p.key("project_directory").to_string(),
                            format!("expected a string, found {}", kind(other)),
                        ))
                    }
                };
                let env_files = match m.get("env_file") {
                    Some(v) => string_list(v, file, &p.key("env_file"))?,
                    None => Vec::new(),
                };
                out.push(Include {
                    paths,
                    project_directory,
                    env_files,
                });
            }
            other => {
                return Err(LoadError::invalid(
                    file,
                    p.to_string(),
                    format!("expected a path or a mapping, found {}", kind(other)),
                ))
            }
        }
    }
    for (i, inc) in out.iter().enumerate() {
        let fetchable = |p: &str| p.starts_with("oci://") && REMOTE_LOADER.get().is_some();
        if let Some(remote) = inc.paths.iter().find(|p| is_remote(p) && !fetchable(p)) {
            return Err(LoadError::invalid(
                file,
                root.index(i).to_string(),
                format!(
                    "remote include {remote:?} is not supported: berth reads OCI artifacts (oci://) and local files, not git; fetch it and include the local copy"
                ),
            ));
        }
    }
    Ok(out)
}

/// Fetches an `oci://` resource and returns the compose file it became locally.
pub type RemoteLoader = dyn Fn(&str) -> Result<PathBuf, String> + Send + Sync;

/// The loader for `oci://` includes; the CLI installs one that pulls from
/// registries (the compose loader itself never touches the network).
static REMOTE_LOADER: std::sync::OnceLock<Box<RemoteLoader>> = std::sync::OnceLock::new();

/// Installs the `oci://` loader (once per process; later calls are ignored).
pub fn set_remote_loader(loader: Box<RemoteLoader>) {
    let _ = REMOTE_LOADER.set(loader);
}

/// Where an include path is on disk: fetched for `oci://`, else relative to `base`.
fn local_path(base: &Path, p: &str, file: &Path) -> Result<PathBuf, LoadError> {
    match (p.strip_prefix("oci://"), REMOTE_LOADER.get()) {
        (Some(_), Some(load)) => {
            load(p).map_err(|message| LoadError::invalid(file, "include", message))
        }
        _ => Ok(abs(base, p)),
    }
}

/// Whether an include names a remote resource, as compose-go's git and OCI
/// loaders accept them, rather than a local file.
fn is_remote(p: &str) -> bool {
    ["oci://", "git://", "git@", "ssh://", "http://", "https://"]
        .iter()
        .any(|prefix| p.starts_with(prefix))
}

fn abs(base: &Path, p: &str) -> PathBuf {
    if Path::new(p).is_absolute() {
        clean(Path::new(p))
    } else {
        clean(&base.join(p))
    }
}

impl Loader {
    /// Loads the `include` entries of one document and copies their resources in.
    pub fn apply_include(
        &mut self,
        cfg: &mut Value,
        base_dir: &Path,
        chain: &[PathBuf],
    ) -> Result<(), LoadError> {
        let Some(m) = cfg.as_mapping_mut() else {
            return Ok(());
        };
        let Some(inc) = m.shift_remove("include") else {
            return Ok(());
        };
        let file = chain.last().cloned().unwrap_or_default();
        for entry in parse_includes(&inc, &file)? {
            let paths: Vec<PathBuf> = entry
                .paths
                .iter()
                .map(|p| local_path(base_dir, p, &file))
                .collect::<Result<_, _>>()?;
            let main = paths[0].clone();
            let project_dir = match &entry.project_directory {
                None => main.parent().map(Path::to_path_buf).unwrap_or_default(),
                Some(d) => abs(base_dir, d),
            };
            // Bounded so that generated files cannot exhaust the stack.
            if chain.len() >= MAX_INCLUDE_DEPTH {
                return Err(LoadError::invalid(
                    &file,
                    "include",
                    format!("include chain deeper than {MAX_INCLUDE_DEPTH} files"),
                ));
            }
            if chain.contains(&main) {
                let mut names: Vec<String> =
                    chain.iter().map(|p| p.display().to_string()).collect();
                names.push(main.display().to_string());
                return Err(LoadError::IncludeCycle(names));
            }
            let env_files: Vec<PathBuf> = if entry.env_files.is_empty() {
                let f = project_dir.join(".env");
                if f.is_file() {
                    vec![f]
                } else {
                    Vec::new()
                }
            } else {
                let mut v = Vec::new();
                for f in &entry.env_files {
                    if f == "/dev/null" {
                        continue;
                    }
                    let p = abs(base_dir, f);
                    match std::fs::metadata(&p) {
                        Err(e) => return Err(LoadError::io(&p, e)),
                        Ok(meta) if meta.is_dir() => {
                            return Err(LoadError::EnvFile {
                                file: p.clone(),
                                message: format!("{} is not a file", p.display()),
                            })
                        }
                        Ok(_) => v.push(p),
                    }
                }
                v
            };
            let mut warnings = Vec::new();
            let from_files = read_env_files(&env_files, &self.env, &mut warnings)?;
            let mut env: IndexMap<String, String> = self.env.clone();
            for (k, v) in from_files {
                env.entry(k).or_insert(v);
            }
            let mut child = Loader {
                env,
                interpolate: self.interpolate,
                resolve_paths: true,
                project_dir: project_dir.clone(),
                home: self.home.clone(),
                warnings,
                variables: IndexMap::new(),
                extends_cache: HashMap::new(),
            };
            let mut imported = Value::Mapping(Mapping::new());
            for p in &paths {
                let bytes = std::fs::read(p).map_err(|e| LoadError::io(p, e))?;
                let content = String::from_utf8_lossy(&bytes);
                let docs = parse_documents(&content, p)?;
                imported = child.process_documents(p, docs, &project_dir, imported, chain)?;
            }
            rebase_tree(
                &mut imported,
                &Rebase::Absolute {
                    base: &project_dir,
                    home: self.home.as_deref(),
                },
            );
            // A secret or config of the included model read from an environment
            // variable its env_file sets is read at `up` from the project's
            // environment: the variable goes there (docker compose's
            // TestSecretFromInclude).
            for var in environment_objects(&imported) {
                if !self.env.contains_key(&var) {
                    if let Some(v) = child.env.get(&var) {
                        self.env.insert(var, v.clone());
                    }
                }
            }
            for w in child.warnings {
                if !self.warnings.contains(&w) {
                    self.warnings.push(w);
                }
            }
            for (k, v) in child.variables {
                self.variables.entry(k).or_insert(v);
            }
            import_resources(imported, cfg, &main)?;
        }
        Ok(())
    }
}

/// The variables the model's secrets and configs are read from (`environment:`).
fn environment_objects(model: &Value) -> Vec<String> {
    ["secrets", "configs"]
        .iter()
        .filter_map(|key| model.get(key)?.as_mapping())
        .flat_map(|objects| objects.values())
        .filter_map(|def| def.get("environment")?.as_str().map(str::to_string))
        .collect()
}

/// Copies the included model's resources into `target`; on a name defined on
/// both sides the including side is merged over the imported one.
fn import_resources(source: Value, target: &mut Value, file: &Path) -> Result<(), LoadError> {
    let Value::Mapping(mut source) = source else {
        return Ok(());
    };
    let Some(target) = target.as_mapping_mut() else {
        return Ok(());
    };
    for key in RESOURCES {
        let Some(Value::Mapping(from)) = source.shift_remove(key) else {
            continue;
        };
        let slot = target
            .entry(Value::String(key.to_string()))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if slot.is_null() {
            *slot = Value::Mapping(Mapping::new());
        }
        let Some(to) = slot.as_mapping_mut() else {
            return Err(LoadError::invalid(
                file,
                key,
                format!("expected a mapping, found {}", kind(slot)),
            ));
        };
        for (name, imported) in from {
            let n = name.as_str().unwrap_or_default().to_string();
            match to.get_mut(&name) {
                None => {
                    to.insert(name, imported);
                }
                Some(local) => {
                    let l = std::mem::take(local);
                    *local =
                        merge(imported, l, &KeyPath::root().key(key).key(&n)).map_err(|e| {
                            LoadError::Merge {
                                file: file.to_path_buf(),
                                path: e.0.trim_start_matches("cannot override ").to_string(),
                            }
                        })?;
                }
            }
        }
    }
    Ok(())
}
