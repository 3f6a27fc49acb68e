//! `berth config`: parse, resolve and render the compose file in canonical
//! format, exactly as `docker compose config` does.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::compose::hash::service_hash;
use crate::compose::output::{
    emit_yaml, emit_yaml_indent, go_json_escape, sorted_tree, to_json, to_yaml,
};
use crate::compose::{self, build_project, ModelOptions, ProjectOptions, RawProject};

/// Flags of `berth config`, as docker compose has them.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// Services to render (default: all enabled)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Format the output. Values: [yaml | json]
    #[arg(long)]
    pub format: Option<String>,
    /// Only validate the configuration, don't print anything
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't interpolate environment variables
    #[arg(long)]
    pub no_interpolate: bool,
    /// Don't normalize compose model
    #[arg(long)]
    pub no_normalize: bool,
    /// Don't resolve file paths
    #[arg(long = "no-path-resolution")]
    pub no_path_resolution: bool,
    /// Don't check model consistency - warning: may produce invalid Compose output
    #[arg(long)]
    pub no_consistency: bool,
    /// Don't resolve service env files
    #[arg(long)]
    pub no_env_resolution: bool,
    /// Print the service names, one per line.
    #[arg(long = "services")]
    pub list_services: bool,
    /// Print the volume names, one per line.
    #[arg(long)]
    pub volumes: bool,
    /// Print the network names, one per line.
    #[arg(long)]
    pub networks: bool,
    /// Print the profile names, one per line.
    #[arg(long)]
    pub profiles: bool,
    /// Print the model names, one per line.
    #[arg(long)]
    pub models: bool,
    /// Print the image names, one per line.
    #[arg(long)]
    pub images: bool,
    /// Print the service config hash, one per line.
    #[arg(long, value_name = "SVC|*")]
    pub hash: Option<String>,
    /// Print model variables and default values.
    #[arg(long)]
    pub variables: bool,
    /// Print environment used for interpolation.
    #[arg(long)]
    pub environment: bool,
    /// Save to file (default to stdout)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Pin image tags to digests
    #[arg(long)]
    pub resolve_image_digests: bool,
    /// Produces an override file with image digests
    #[arg(long)]
    pub lock_image_digests: bool,
    /// berth's state root, whose image store is asked for digests first.
    #[arg(skip)]
    pub store_root: Option<PathBuf>,
}

/// Pins the project's images (`--resolve-image-digests`): from berth's image
/// store when it has the image, else from its registry.
fn resolve_digests(args: &ConfigArgs, project: &mut compose::Project) -> Result<()> {
    let store = args
        .store_root
        .as_ref()
        .filter(|r| r.join("images").is_dir())
        .and_then(|r| crate::image::Store::open(r).ok());
    let client = crate::image::Client::new(crate::image::RegistryOptions::default());
    crate::publish::digests::Resolver::new(store.as_ref(), &client).resolve_project(project)?;
    Ok(())
}

fn print_warnings(raw_warnings: &[String], model_warnings: &[compose::Warning]) {
    let mut err = std::io::stderr().lock();
    for w in raw_warnings {
        let _ = writeln!(err, "WARN[0000] {w}");
    }
    for w in model_warnings {
        let _ = writeln!(err, "WARN[0000] {w}");
    }
}

fn load(
    args: &ConfigArgs,
    mut popts: ProjectOptions,
    services: &[String],
    resolve_env: bool,
) -> Result<compose::Project> {
    popts.interpolate = !args.no_interpolate;
    popts.resolve_paths = !args.no_path_resolution;
    let mut raw = compose::load_raw(&popts)?;
    let raw_warnings = std::mem::take(&mut raw.warnings);
    let resolve_env = resolve_env && !args.no_env_resolution;
    // Without normalization the model stays as compose-go's loader leaves it:
    // env and label files are read, and still listed.
    let keep_files = args.no_normalize;
    let mopts = ModelOptions {
        normalize: !args.no_normalize,
        consistency: !args.no_consistency,
        resolve_paths: !args.no_path_resolution,
        resolve_environment: resolve_env && !keep_files,
        services: services.to_vec(),
    };
    let (mut project, warnings) = build_project(raw, &mopts)?;
    if resolve_env && keep_files {
        compose::env_file::resolve_keeping_files(&mut project)?;
    }
    print_warnings(&raw_warnings, &warnings);
    Ok(project)
}

/// `--resolve-image-digests` on the uninterpolated model: each service's
/// `image:` pinned where the model has one.
fn resolve_tree_digests(args: &ConfigArgs, tree: &mut serde_yaml_ng::Value) -> Result<()> {
    let store = args
        .store_root
        .as_ref()
        .filter(|r| r.join("images").is_dir())
        .and_then(|r| crate::image::Store::open(r).ok());
    let client = crate::image::Client::new(crate::image::RegistryOptions::default());
    let mut resolver = crate::publish::digests::Resolver::new(store.as_ref(), &client);
    if let Some(serde_yaml_ng::Value::Mapping(services)) = tree.get_mut("services") {
        for (_, svc) in services.iter_mut() {
            if let Some(serde_yaml_ng::Value::String(image)) = svc.get_mut("image") {
                *image = resolver.resolve(image)?;
            }
        }
    }
    Ok(())
}

/// `--lock-image-digests` on the uninterpolated model: services' images only.
fn lock_tree(tree: &mut serde_yaml_ng::Value) {
    let mut services = serde_yaml_ng::Mapping::new();
    if let Some(serde_yaml_ng::Value::Mapping(m)) = tree.get("services") {
        for (name, svc) in m {
            let mut kept = serde_yaml_ng::Mapping::new();
            if let Some(image) = svc.get("image") {
                kept.insert("image".into(), image.clone());
            }
            if let Some(serde_yaml_ng::Value::Sequence(vols)) = svc.get("volumes") {
                let images: Vec<serde_yaml_ng::Value> = vols
                    .iter()
                    .filter(|v| v.get("type").and_then(|t| t.as_str()) == Some("image"))
                    .cloned()
                    .collect();
                if !images.is_empty() {
                    kept.insert("volumes".into(), images.into());
                }
            }
            services.insert(name.clone(), kept.into());
        }
    }
    let mut root = serde_yaml_ng::Mapping::new();
    root.insert("services".into(), services.into());
    *tree = root.into();
}

fn lines(out: &mut String, items: impl IntoIterator<Item = String>) {
    for i in items {
        out.push_str(&i);
        out.push('\n');
    }
}

/// Runs `berth config`; `popts` carries the global options.
pub fn run(args: &ConfigArgs, popts: ProjectOptions) -> Result<()> {
    let mut out = String::new();
    // Only the rendered model goes to `-o`; listings always print (as docker compose).
    let mut rendered = false;
    if args.list_services && args.no_interpolate {
        // Values may hold `${…}` and cannot be typed: list the raw keys.
        let mut popts = popts;
        popts.interpolate = false;
        let raw = compose::load_raw(&popts)?;
        if let Some(serde_yaml_ng::Value::Mapping(m)) = raw.tree.get("services") {
            let mut names: Vec<String> = m
                .keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            names.sort();
            lines(&mut out, names);
        }
    } else if args.list_services {
        let p = load(args, popts, &[], false)?;
        lines(&mut out, p.service_names());
    } else if args.volumes {
        let p = load(args, popts, &[], false)?;
        lines(&mut out, p.volumes.keys().cloned());
    } else if args.networks {
        let p = load(args, popts, &[], false)?;
        lines(&mut out, p.networks.keys().cloned());
    } else if let Some(hash) = &args.hash {
        let p = load(args, popts, &[], false)?;
        let mut names: Vec<String> = if hash == "*" {
            p.service_names()
        } else {
            hash.split(',').map(str::to_string).collect()
        };
        names.sort();
        if let Some(name) = names.iter().find(|n| !p.services.contains_key(*n)) {
            bail!("no such service: {name}");
        }
        // The hash is of the model before env files are read (as `up` labels
        // containers), but a service whose env file is missing fails here as
        // `up` would, unless --no-env-resolution says not to look.
        if !args.no_env_resolution {
            let mut check = p.clone();
            check.services.retain(|n, _| names.contains(n));
            compose::env_file::resolve_services_environment(&mut check)?;
        }
        for name in names {
            out.push_str(&format!("{name} {}\n", service_hash(&p.services[&name])));
        }
    } else if args.profiles {
        let p = load(args, popts, &args.services, false)?;
        let set: BTreeSet<String> = p.all_services().flat_map(|s| s.profiles.clone()).collect();
        lines(&mut out, set);
    } else if args.models {
        let p = load(args, popts, &[], false)?;
        let mut names: Vec<String> = p
            .models
            .iter()
            .map(|(k, m)| {
                if m.model.is_empty() {
                    k.clone()
                } else {
                    m.model.clone()
                }
            })
            .collect();
        names.sort();
        lines(&mut out, names);
    } else if args.images {
        let p = load(args, popts, &args.services, false)?;
        lines(&mut out, p.services.values().map(|s| p.image_name(s)));
    } else if args.variables {
        if !args.services.is_empty() {
            eprintln!("WARN[0000] service filtering is not applied when --variables is set");
        }
        let mut popts = popts;
        popts.interpolate = false;
        let raw = compose::load_raw(&popts)?;
        out = variables(&raw, args.format.as_deref().unwrap_or("table"))?;
    } else if args.environment {
        let p = load(args, popts, &args.services, true)?;
        lines(
            &mut out,
            p.environment.iter().map(|(k, v)| format!("{k}={v}")),
        );
    } else {
        rendered = true;
        let format = args.format.as_deref().unwrap_or("yaml");
        if format != "yaml" && format != "json" {
            bail!("unsupported format {format:?}");
        }
        if args.no_interpolate {
            if !args.services.is_empty() {
                eprintln!(
                    "WARN[0000] service filtering is not applied when --no-interpolate is set"
                );
            }
            let mut popts = popts;
            popts.interpolate = false;
            popts.resolve_paths = !args.no_path_resolution;
            let mut raw = compose::load_raw(&popts)?;
            if !args.no_normalize {
                compose::normalize::normalize_tree(
                    &mut raw.tree,
                    &raw.name,
                    &raw.working_dir,
                    !args.no_path_resolution,
                );
            }
            if args.resolve_image_digests || args.lock_image_digests {
                resolve_tree_digests(args, &mut raw.tree)?;
            }
            if args.lock_image_digests {
                lock_tree(&mut raw.tree);
            }
            // `-q` only validates: rendering cannot fail, so it is skipped.
            if args.quiet {
                return Ok(());
            }
            let tree = sorted_tree(&raw.tree);
            out = if format == "json" {
                go_json_escape(&serde_json::to_string_pretty(&tree)?)
            } else {
                emit_yaml(&tree)
            };
        } else {
            let mut p = load(args, popts, &args.services, true)?;
            if args.resolve_image_digests || args.lock_image_digests {
                resolve_digests(args, &mut p)?;
            }
            // `-q` only validates: rendering (a third of the work on a large
            // project) cannot fail, so it is skipped.
            if args.quiet {
                return Ok(());
            }
            out = if args.lock_image_digests {
                for w in crate::publish::digests::hooks_not_lockable(&p) {
                    eprintln!("WARN[0000] {w}");
                }
                let lock = crate::publish::digests::lock_model(&p, true);
                if format == "json" {
                    format!("{}\n", serde_json::to_string_pretty(&lock)?)
                } else {
                    emit_yaml(&lock)
                }
            } else if format == "json" {
                to_json(&p)
            } else {
                to_yaml(&p)
            };
        }
    }
    if args.quiet {
        return Ok(());
    }
    if let (Some(path), true) = (&args.output, rendered) {
        if !out.is_empty() {
            std::fs::write(path, &out).with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// The `--variables` table (or JSON/YAML), sorted by name.
pub fn variables(raw: &RawProject, format: &str) -> Result<String> {
    let mut vars: Vec<(&String, &compose::VariableUse)> = raw.variables.iter().collect();
    vars.sort_by(|a, b| a.0.cmp(b.0));
    match format {
        "json" => {
            let m: serde_json::Map<String, serde_json::Value> = vars
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        serde_json::json!({
                            "Name": k,
                            "DefaultValue": v.default_value.clone().unwrap_or_default(),
                            "PresenceValue": v.alternate_value.clone().unwrap_or_default(),
                            "Required": v.required,
                        }),
                    )
                })
                .collect();
            Ok(format!(
                "{}\n",
                go_json_escape(&json_indent4(&serde_json::Value::Object(m))?)
            ))
        }
        "yaml" => {
            let m: serde_json::Map<String, serde_json::Value> = vars
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        serde_json::json!({
                            "name": k,
                            "defaultvalue": v.default_value.clone().unwrap_or_default(),
                            "presencevalue": v.alternate_value.clone().unwrap_or_default(),
                            "required": v.required,
                        }),
                    )
                })
                .collect();
            Ok(emit_yaml_indent(&serde_json::Value::Object(m), 4))
        }
        _ => {
            let mut rows = vec![vec![
                "NAME".to_string(),
                "REQUIRED".to_string(),
                "DEFAULT VALUE".to_string(),
                "ALTERNATE VALUE".to_string(),
            ]];
            for (k, v) in vars {
                rows.push(vec![
                    k.clone(),
                    v.required.to_string(),
                    v.default_value.clone().unwrap_or_default(),
                    v.alternate_value.clone().unwrap_or_default(),
                ]);
            }
            Ok(tabwrite(&rows))
        }
    }
}

/// Go's `json.MarshalIndent(v, "", "    ")`.
fn json_indent4(v: &serde_json::Value) -> Result<String> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(v, &mut ser)?;
    Ok(String::from_utf8(buf)?)
}

/// Go's `tabwriter.NewWriter(w, 20, 1, 3, ' ', 0)` as docker's formatter uses it.
fn tabwrite(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                widths[i] = widths[i].max((cell.chars().count() + 3).max(20));
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                for _ in cell.chars().count()..widths[i] {
                    out.push(' ');
                }
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    fn raw_with_port_variable() -> RawProject {
        let mut variables = IndexMap::new();
        variables.insert(
            "PORT".to_string(),
            compose::VariableUse {
                required: false,
                default_value: Some("8080".into()),
                alternate_value: None,
            },
        );
        RawProject {
            name: "p".into(),
            working_dir: PathBuf::from("/p"),
            config_files: vec![],
            environment: IndexMap::new(),
            env_files: vec![],
            profiles: vec![],
            tree: serde_yaml_ng::Value::Null,
            variables,
            warnings: vec![],
        }
    }

    // Expected texts from docker/compose pkg/e2e/config_test.go.
    #[test]
    fn variables_json_and_yaml() {
        let raw = raw_with_port_variable();
        let json = variables(&raw, "json").unwrap();
        assert!(json.contains("{\n    \"PORT\": {\n        \"Name\": \"PORT\",\n        \"DefaultValue\": \"8080\",\n        \"PresenceValue\": \"\",\n        \"Required\": false\n    }\n}"), "{json}");
        let yaml = variables(&raw, "yaml").unwrap();
        assert!(yaml.contains("PORT:\n    name: PORT\n    defaultvalue: \"8080\"\n    presencevalue: \"\"\n    required: false"), "{yaml}");
    }

    #[test]
    fn variables_table() {
        let table = variables(&raw_with_port_variable(), "table").unwrap();
        assert_eq!(
            table,
            "NAME                REQUIRED            DEFAULT VALUE       ALTERNATE VALUE\nPORT                false               8080                \n"
        );
    }
}
