//! `publish`: a compose project as an OCI artifact, as docker compose v2/v5
//! makes it (`pkg/compose/publish.go`): the checks and prompts before anything
//! leaves the machine (build-only services, bind mounts, sensitive data, env
//! declarations, inline config content), then the layers: each compose file as
//! written (its `extends` parents and env files renamed to opaque hashes), the
//! local `extends` parents, the env files (`--with-env`) and the image digests
//! (`--resolve-image-digests`).

pub mod artifact;
pub mod digests;
pub mod rewrite;
pub mod secrets;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_yaml_ng::Value;
use sha2::{Digest as _, Sha256};

use crate::compose::interpolate::Interpolator;
use crate::compose::yaml::key_string;
use crate::compose::Project;
use artifact::Layer;
use rewrite::Step;
use secrets::{Finding, Scanner};

/// Errors of a publish, before anything is pushed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The user declined a prompt.
    #[error("canceled")]
    Canceled,
    /// Services with a build section and no image cannot be pulled by anyone else.
    #[error("{0}")]
    BuildOnly(String),
    /// A compose file includes local files, which the artifact would not carry.
    #[error("cannot publish compose file with local includes")]
    LocalInclude,
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A compose file could not be parsed or rewritten.
    #[error("{0}")]
    Compose(String),
    /// A required env file is missing.
    #[error("env file {0} not found")]
    MissingEnvFile(String),
    /// Answering a prompt failed.
    #[error("reading the answer: {0}")]
    Prompt(std::io::Error),
}

/// What `publish` was asked for.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// `--with-env`: publish env files, and do not prompt about env declarations.
    pub with_env: bool,
}

/// Asks the user to confirm `message`; true to go on.
pub type Prompt<'a> = &'a mut dyn FnMut(&str) -> std::io::Result<bool>;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The documents of one compose file, as written (no interpolation).
fn documents(file: &Path) -> Result<(String, Vec<Value>), PublishError> {
    let text = std::fs::read_to_string(file).map_err(io_err(file))?;
    let docs = crate::compose::yaml::parse_documents(&text, file)
        .map_err(|e| PublishError::Compose(e.to_string()))?
        .into_iter()
        .map(|d| d.value)
        .collect();
    Ok((text, docs))
}

fn services_of(doc: &Value) -> Vec<(String, &Value)> {
    match doc.get("services") {
        Some(Value::Mapping(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((key_string(k)?, v)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Fails with docker compose's refusal when a file includes local files
/// (remote includes travel by reference and are fine).
pub fn check_no_local_includes(files: &[PathBuf]) -> Result<(), PublishError> {
    const REMOTE: [&str; 6] = ["oci://", "git://", "git@", "ssh://", "http://", "https://"];
    let remote = |s: &str| REMOTE.iter().any(|p| s.starts_with(p));
    for f in files {
        for doc in documents(f)?.1 {
            let Some(Value::Sequence(items)) = doc.get("include") else {
                continue;
            };
            let local = items.iter().any(|i| match i {
                Value::String(s) => !remote(s),
                Value::Mapping(_) => match i.get("path") {
                    Some(Value::String(s)) => !remote(s),
                    Some(Value::Sequence(ps)) => {
                        ps.iter().any(|p| p.as_str().is_some_and(|s| !remote(s)))
                    }
                    _ => true,
                },
                _ => false,
            });
            if local {
                return Err(PublishError::LocalInclude);
            }
        }
    }
    Ok(())
}

/// A path from a compose file, interpolated and made absolute against the
/// project directory (compose-go's `ResolvePaths` with the project's working dir).
fn resolve_path(project: &Project, raw: &str) -> String {
    let env = &project.environment;
    let lookup = |k: &str| env.get(k).cloned();
    let mut interp = Interpolator::new(&lookup);
    let s = interp.substitute(raw).unwrap_or_else(|_| raw.to_string());
    let p = Path::new(&s);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        project.working_dir.join(p)
    };
    crate::compose::paths::clean(&abs)
        .to_string_lossy()
        .into_owned()
}

/// `env_file` entries of a service node: (index in the list or None for the
/// string form, whether it is the long form, path as written, required).
fn env_file_entries(svc: &Value) -> Vec<(Option<usize>, bool, String, bool)> {
    match svc.get("env_file") {
        Some(Value::String(s)) => vec![(None, false, s.clone(), true)],
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| match it {
                Value::String(s) => Some((Some(i), false, s.clone(), true)),
                Value::Mapping(_) => Some((
                    Some(i),
                    true,
                    it.get("path")?.as_str()?.to_string(),
                    it.get("required").and_then(Value::as_bool).unwrap_or(true),
                )),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn extends_file(svc: &Value) -> Option<String> {
    svc.get("extends")?
        .get("file")?
        .as_str()
        .map(str::to_string)
}

fn sha_name(path: &str, ext: &str) -> String {
    format!(
        "{}.{ext}",
        crate::image::digest::to_hex(&Sha256::digest(path.as_bytes()))
    )
}

/// Local files a publish carries: extends parents and env files, by absolute
/// path, with their names inside the artifact.
#[derive(Default)]
struct Carried {
    extends: IndexMap<String, String>,
    env_files: IndexMap<String, String>,
}

/// docker compose's `processFile`: the file's bytes with each env file and
/// local extends parent renamed to its hash, noting what must travel with it.
fn process_file(
    project: &Project,
    file: &Path,
    carried: &mut Carried,
) -> Result<Vec<u8>, PublishError> {
    let (mut text, docs) = documents(file)?;
    let Some(doc) = docs.first() else {
        return Ok(text.into_bytes());
    };
    let not_block = |what: String| {
        PublishError::Compose(format!(
            "{}: {what} is written in flow style; publish rewrites it and needs block style",
            file.display()
        ))
    };
    for (name, svc) in services_of(doc) {
        for (index, long, raw, _) in env_file_entries(svc) {
            let path = resolve_path(project, &raw);
            match std::fs::metadata(&path) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(PublishError::Compose(format!(
                        "failed to access env file {path}: {e}"
                    )))
                }
            }
            // The name comes from the path alone, so the artifact never shows it,
            // even for an optional file that is absent (and then not carried).
            let hash = sha_name(&path, "env");
            if Path::new(&path).exists() {
                carried.env_files.insert(path.clone(), hash.clone());
            }
            let mut at = vec![
                Step::Key("services"),
                Step::Key(&name),
                Step::Key("env_file"),
            ];
            if let Some(i) = index {
                at.push(Step::Index(i));
            }
            if long {
                at.push(Step::Key("path"));
            }
            text = rewrite::replace(&text, &at, &hash)
                .ok_or_else(|| not_block(format!("services.{name}.env_file")))?;
        }
        let Some(xf) = extends_file(svc) else {
            continue;
        };
        let path = resolve_path(project, &xf);
        if !Path::new(&path).exists() {
            // Loaded fine yet not on disk: a remote resource, published by reference.
            continue;
        }
        let hash = sha_name(&path, "yaml");
        carried.extends.insert(path, hash.clone());
        let at = [
            Step::Key("services"),
            Step::Key(&name),
            Step::Key("extends"),
            Step::Key("file"),
        ];
        text = rewrite::replace(&text, &at, &hash)
            .ok_or_else(|| not_block(format!("services.{name}.extends.file")))?;
    }
    Ok(text.into_bytes())
}

/// The artifact's layers, in docker compose's order: the compose files, the
/// local `extends` parents (annotated `com.docker.compose.extends`), the env
/// files with `--with-env`, then `image_digests` as `image-digests.yaml`.
pub fn layers(
    project: &Project,
    opts: &PublishOptions,
    image_digests: Option<String>,
) -> Result<Vec<Layer>, PublishError> {
    let mut carried = Carried::default();
    let mut out = Vec::new();
    for file in &project.compose_files {
        let data = process_file(project, file, &mut carried)?;
        out.push(Layer::compose_file(&file.to_string_lossy(), data));
    }
    // Parents of parents are found while the parents are processed.
    let mut done = 0;
    while done < carried.extends.len() {
        let (path, hash) = carried
            .extends
            .get_index(done)
            .map(|(p, h)| (p.clone(), h.clone()))
            .expect("index below len");
        done += 1;
        let data = process_file(project, Path::new(&path), &mut carried)?;
        let mut layer = Layer::compose_file(&hash, data);
        layer
            .annotations
            .insert("com.docker.compose.extends".into(), "true".into());
        out.push(layer);
    }
    if opts.with_env {
        for (path, hash) in &carried.env_files {
            // An env file that cannot be read is left out, as docker compose does.
            if let Ok(data) = std::fs::read(path) {
                out.push(Layer::env_file(hash, data));
            }
        }
    }
    if let Some(yaml) = image_digests {
        out.push(Layer::compose_file("image-digests.yaml", yaml.into_bytes()));
    }
    Ok(out)
}

/// Refuses services that only have a build section: nobody could pull them.
pub fn check_build_only(project: &Project) -> Result<(), PublishError> {
    let names: Vec<&String> = project
        .services
        .iter()
        .filter(|(_, s)| s.image.is_empty() && s.build.is_some())
        .map(|(n, _)| n)
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let mut msg = String::from(
        "your Compose stack cannot be published as it only contains a build section for service(s):\n",
    );
    for n in names {
        msg.push_str(&format!("- {n:?}\n"));
    }
    Err(PublishError::BuildOnly(msg))
}

fn confirm(prompt: Prompt<'_>, message: &str) -> Result<(), PublishError> {
    match prompt(message) {
        Ok(true) => Ok(()),
        Ok(false) => Err(PublishError::Canceled),
        Err(e) => Err(PublishError::Prompt(e)),
    }
}

/// The bind-mount prompt's text, or None without bind mounts.
pub fn bind_mount_message(project: &Project) -> Option<String> {
    let mut found = String::new();
    for (name, svc) in &project.services {
        let binds: Vec<_> = svc.volumes.iter().filter(|v| v.kind == "bind").collect();
        if binds.is_empty() {
            continue;
        }
        found.push_str(name);
        for v in binds {
            let mut options = vec![if v.read_only { "ro" } else { "rw" }.to_string()];
            if let Some(b) = &v.bind {
                if !b.selinux.is_empty() {
                    options.push(b.selinux.clone());
                }
                if !b.propagation.is_empty() {
                    options.push(b.propagation.clone());
                }
            }
            found.push_str(&format!(
                "{}:{}:{}\n",
                v.source,
                v.target,
                options.join(",")
            ));
        }
    }
    if found.is_empty() {
        return None;
    }
    Some(format!(
        "you are about to publish bind mounts declaration within your OCI artifact.\n\
         only the bind mount declarations will be added to the OCI artifact (not content)\n\
         please double check that you are not mounting potential user's sensitive directories or data\n\
         {found}Are you ok to publish these bind mount declarations?"
    ))
}

/// One compose file as the scanner reads it: the first document with
/// list-form `environment` and `labels` as maps, flattened to key paths.
fn compose_file_pairs(file: &Path) -> Result<BTreeMap<String, String>, PublishError> {
    let (_, docs) = documents(file)?;
    let mut doc = docs.into_iter().next().unwrap_or(Value::Null);
    if let Some(Value::Mapping(services)) = doc.get_mut("services") {
        for (_, svc) in services.iter_mut() {
            for key in ["environment", "labels"] {
                if let Some(v @ Value::Sequence(_)) = svc.get_mut(key) {
                    *v = list_to_map(v);
                }
            }
        }
    }
    Ok(secrets::flatten(&doc))
}

fn list_to_map(v: &Value) -> Value {
    let mut m = serde_yaml_ng::Mapping::new();
    for item in v.as_sequence().into_iter().flatten() {
        if let Some(s) = item.as_str() {
            match s.split_once('=') {
                Some((k, val)) => m.insert(k.into(), val.into()),
                None => m.insert(s.into(), Value::Null),
            };
        }
    }
    Value::Mapping(m)
}

/// Sensitive data in the compose files, the services' env files and the
/// configs' and secrets' files.
pub fn sensitive_data(project: &Project) -> Result<Vec<Finding>, PublishError> {
    let scanner = Scanner::default();
    let mut all = Vec::new();
    for file in &project.compose_files {
        let pairs = compose_file_pairs(file)?;
        let mut found = scanner.scan_map(&pairs);
        let mut seen = std::collections::HashSet::new();
        found.retain(|f| seen.insert(f.key.clone()));
        all.extend(found);
    }
    for svc in project.services.values() {
        for ef in &svc.env_files {
            let path = Path::new(&ef.path);
            match std::fs::metadata(path) {
                Ok(_) => all.extend(scanner.scan_file(path).map_err(io_err(path))?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if ef.required {
                        return Err(PublishError::MissingEnvFile(ef.path.clone()));
                    }
                }
                Err(e) => {
                    return Err(PublishError::Compose(format!(
                        "failed to access env file {}: {e}",
                        ef.path
                    )))
                }
            }
        }
    }
    for obj in project.configs.values().chain(project.secrets.values()) {
        if obj.file.is_empty() {
            continue;
        }
        let path = Path::new(&obj.file);
        all.extend(scanner.scan_file(path).map_err(io_err(path))?);
    }
    Ok(all)
}

/// The sensitive-data prompt's text.
pub fn sensitive_data_message(found: &[Finding]) -> String {
    let mut b = String::from(
        "you are about to publish sensitive data within your OCI artifact.\n\
         please double check that you are not leaking sensitive data\n",
    );
    for f in found {
        b.push_str(&f.kind);
        b.push('\n');
        b.push_str(&format!("{:?}: {}\n", f.key, f.value));
    }
    b.push_str("Are you ok to publish these sensitive data?");
    b
}

/// Env-related findings: per service, whether it declares env files and which
/// keys hold sensitive-looking literal values; configs with literal content.
#[derive(Debug, Default)]
pub struct EnvFindings {
    /// Service name → (env_file declared, suspicious keys).
    pub services: BTreeMap<String, (bool, std::collections::BTreeSet<String>)>,
    /// Configs whose inline content is literal.
    pub literal_configs: Vec<String>,
}

/// Walks the compose files and their local extends parents as written (no
/// interpolation: `${VAR}` stays symbolic and is not a leak).
pub fn env_findings(project: &Project) -> Result<EnvFindings, PublishError> {
    let detector = secrets::keyword(0.0);
    let mut out = EnvFindings::default();
    let mut literal = std::collections::BTreeSet::new();
    let mut queue: Vec<PathBuf> = project.compose_files.clone();
    let mut seen = std::collections::HashSet::new();
    let mut i = 0;
    while i < queue.len() {
        let file = queue[i].clone();
        i += 1;
        if !seen.insert(file.clone()) {
            continue;
        }
        let (_, docs) = documents(&file)?;
        let Some(doc) = docs.first() else { continue };
        for (name, svc) in services_of(doc) {
            let mut env = BTreeMap::new();
            match svc.get("environment") {
                Some(Value::Mapping(m)) => {
                    for (k, v) in m {
                        let (Some(k), Some(v)) = (key_string(k), scalar(v)) else {
                            continue;
                        };
                        env.insert(k, v.replace("$$", "X"));
                    }
                }
                Some(v @ Value::Sequence(_)) => {
                    if let Value::Mapping(m) = list_to_map(v) {
                        for (k, v) in m {
                            if let (Some(k), Some(v)) = (key_string(&k), v.as_str()) {
                                env.insert(k, v.replace("$$", "X"));
                            }
                        }
                    }
                }
                _ => {}
            }
            let hits = detector.scan_map(&env);
            let has_env_file = !env_file_entries(svc).is_empty();
            if !hits.is_empty() || has_env_file {
                let entry = out.services.entry(name.clone()).or_default();
                entry.0 |= has_env_file;
                entry.1.extend(hits.into_iter().map(|h| h.key));
            }
            if let Some(xf) = extends_file(svc) {
                let path = resolve_path(project, &xf);
                if Path::new(&path).exists() {
                    queue.push(PathBuf::from(path));
                }
            }
        }
        if let Some(Value::Mapping(configs)) = doc.get("configs") {
            for (k, c) in configs {
                let (Some(name), Some(content)) =
                    (key_string(k), c.get("content").and_then(scalar))
                else {
                    continue;
                };
                let mut m = BTreeMap::new();
                m.insert("password".to_string(), content.replace("$$", "X"));
                if !detector.scan_map(&m).is_empty() {
                    literal.insert(name);
                }
            }
        }
    }
    out.literal_configs = literal.into_iter().collect();
    Ok(out)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The env prompt's text.
pub fn env_message(f: &EnvFindings) -> String {
    let mut b = String::from(
        "you are about to publish env-related declarations within your OCI artifact.\n\
         env_file paths and literal values for sensitive-looking keys are embedded as-is in the published YAML;\n\
         interpolated values like \"${VAR}\" are kept symbolic and have already been excluded.\n",
    );
    for (name, (has_env_file, keys)) in &f.services {
        if *has_env_file {
            b.push_str(&format!("  service {name:?}: env_file declared\n"));
        }
        if !keys.is_empty() {
            let quoted: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
            b.push_str(&format!(
                "  service {name:?}: literal value for {}\n",
                quoted.join(", ")
            ));
        }
    }
    b.push_str("Use --with-env to silence this prompt and always publish env declarations.\n");
    b.push_str("Are you ok to publish these env declarations?");
    b
}

/// The inline-config prompt's text.
pub fn config_content_message(configs: &[String]) -> String {
    let mut b = String::from(
        "you are about to publish literal inline config content within your OCI artifact.\n",
    );
    for c in configs {
        b.push_str(&format!("  config {c:?}\n"));
    }
    b.push_str("Are you ok to publish these config contents?");
    b
}

/// Every check docker compose makes before publishing, prompting in its order:
/// build-only services (refused), bind mounts, sensitive data, env declarations
/// (unless `--with-env`), inline config content.
pub fn pre_checks(
    project: &Project,
    opts: &PublishOptions,
    prompt: Prompt<'_>,
) -> Result<(), PublishError> {
    check_build_only(project)?;
    if let Some(msg) = bind_mount_message(project) {
        confirm(prompt, &msg)?;
    }
    let found = sensitive_data(project)?;
    if !found.is_empty() {
        confirm(prompt, &sensitive_data_message(&found))?;
    }
    let env = env_findings(project)?;
    let any_env = env
        .services
        .values()
        .any(|(has_file, keys)| *has_file || !keys.is_empty());
    if !opts.with_env && any_env {
        confirm(prompt, &env_message(&env))?;
    }
    if !env.literal_configs.is_empty() {
        confirm(prompt, &config_content_message(&env.literal_configs))?;
    }
    Ok(())
}
