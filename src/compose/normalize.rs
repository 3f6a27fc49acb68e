//! compose-go's `Normalize`: the defaults and implicit relations that make
//! the model explicit (project name, default network, implicit depends_on,
//! resource names, build defaults), plus path resolution.

use std::collections::BTreeMap;
use std::path::Path;

use crate::compose::model::{Project, ServiceDependency, VolumeConfig};

/// Gives bare `environment` keys the project environment's value; unset ones
/// stay null (compose-go keeps them so the container env can still inherit
/// them). compose-go does this while loading, so `config --no-normalize`
/// prints the values too.
pub fn resolve_bare_environment(project: &mut Project) {
    let env = &project.environment;
    for service in project.services.values_mut() {
        for (k, v) in service.environment.iter_mut() {
            if v.is_none() {
                if let Some(val) = env.get(k) {
                    *v = Some(val.clone());
                }
            }
        }
    }
}

/// Applies compose-go's normalization to a decoded project.
pub fn normalize(project: &mut Project, resolve_paths: bool) {
    normalize_networks(project);
    let env = project.environment.clone();
    for service in project.services.values_mut() {
        if service.pull_policy == "if_not_present" {
            service.pull_policy = "missing".into();
        }
        if let Some(build) = service.build.as_mut() {
            if build.context.is_empty() {
                build.context = ".".into();
            }
            if build.dockerfile.is_empty() && build.dockerfile_inline.is_empty() {
                build.dockerfile = "Dockerfile".into();
            }
            // Build args without a value come from the environment or are dropped.
            build.args = std::mem::take(&mut build.args)
                .into_iter()
                .filter_map(|(k, v)| match v {
                    Some(v) => Some((k, Some(v))),
                    None => env.get(&k).map(|v| (k, Some(v.clone()))),
                })
                .collect();
        }
        let mut implicit: Vec<(String, bool)> = Vec::new();
        for link in &service.links {
            let target = match link.split_once(':') {
                Some((t, _)) => t,
                None => link.as_str(),
            };
            implicit.push((target.to_string(), true));
        }
        for ns in [
            &service.network_mode,
            &service.ipc,
            &service.pid,
            &service.uts,
            &service.cgroup,
        ] {
            if let Some(target) = ns.strip_prefix("service:") {
                implicit.push((target.to_string(), true));
            }
        }
        for vf in &service.volumes_from {
            if !vf.starts_with("container:") {
                let target = vf.split(':').next().unwrap_or_default();
                implicit.push((target.to_string(), false));
            }
        }
        for (target, restart) in implicit {
            service
                .depends_on
                .entry(target)
                .or_insert_with(|| ServiceDependency {
                    condition: "service_started".into(),
                    restart,
                    extensions: BTreeMap::new(),
                    required: true,
                });
        }
        for v in service.volumes.iter_mut() {
            if !v.target.is_empty() {
                v.target = clean_path(&v.target);
            }
        }
    }
    set_names_from_keys(project);
    if resolve_paths {
        resolve_relative_paths(project);
    }
}

fn normalize_networks(project: &mut Project) {
    let mut uses_default = false;
    for service in project.services.values_mut() {
        if service.provider.is_some() || !service.network_mode.is_empty() {
            continue;
        }
        if service.networks.is_empty() {
            service.networks.insert("default".into(), None);
            uses_default = true;
        } else if service.networks.contains_key("default") {
            uses_default = true;
        }
    }
    if uses_default && !project.networks.contains_key("default") {
        project
            .networks
            .insert("default".into(), Default::default());
    }
}

fn set_names_from_keys(project: &mut Project) {
    let prefix = project.name.clone();
    let name_for = |key: &str, name: &mut String, external: bool| {
        if name.is_empty() {
            *name = if external {
                key.to_string()
            } else {
                format!("{prefix}_{key}")
            };
        }
    };
    for (k, n) in project.networks.iter_mut() {
        name_for(k, &mut n.name, n.external);
    }
    for (k, v) in project.volumes.iter_mut() {
        let VolumeConfig { name, external, .. } = v;
        name_for(k, name, *external);
    }
    for (k, s) in project.secrets.iter_mut() {
        name_for(k, &mut s.name, s.external);
    }
    for (k, c) in project.configs.iter_mut() {
        name_for(k, &mut c.name, c.external);
    }
}

/// Go's `path.Clean` for slash-separated paths.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn home_dir() -> Option<String> {
    std::env::var("HOME").ok().filter(|h| !h.is_empty())
}

/// Makes a host path absolute: `~` is the home directory, relative paths are
/// joined to the project directory, and the result is cleaned.
pub fn absolute(base: &Path, p: &str) -> String {
    if p.is_empty() {
        return p.to_string();
    }
    let expanded = if p == "~" || p.starts_with("~/") {
        match home_dir() {
            Some(h) => format!("{h}{}", &p[1..]),
            None => p.to_string(),
        }
    } else {
        p.to_string()
    };
    if expanded.starts_with('/') {
        return clean_path(&expanded);
    }
    clean_path(&format!("{}/{}", base.display(), expanded))
}

/// Remote build contexts (git, http) are not paths.
fn is_remote_context(ctx: &str) -> bool {
    ctx.contains("://")
        || ctx.starts_with("git@")
        || ctx.starts_with("github.com/")
        || ctx.ends_with(".git")
        || ctx.contains(".git#")
}

fn resolve_relative_paths(project: &mut Project) {
    let base = project.working_dir.clone();
    for service in project.services.values_mut() {
        if let Some(build) = service.build.as_mut() {
            if !is_remote_context(&build.context) {
                build.context = absolute(&base, &build.context);
            }
            for ctx in build.additional_contexts.values_mut() {
                if !is_remote_context(ctx) && !ctx.contains(':') {
                    *ctx = absolute(&base, ctx);
                }
            }
            // compose-go resolves `build.ssh` key files and sockets (an empty path is
            // $SSH_AUTH_SOCK, resolved when the build starts).
            for paths in build.ssh.values_mut() {
                if !paths.is_empty() {
                    *paths = paths
                        .split(',')
                        .map(|p| absolute(&base, p))
                        .collect::<Vec<_>>()
                        .join(",");
                }
            }
        }
        for ef in service.env_files.iter_mut() {
            ef.path = absolute(&base, &ef.path);
        }
        for lf in service.label_files.iter_mut() {
            *lf = absolute(&base, lf);
        }
        for v in service.volumes.iter_mut() {
            if v.kind == "bind" && !v.source.is_empty() {
                v.source = absolute(&base, &v.source);
            }
        }
        if let Some(dev) = service.develop.as_mut() {
            for w in dev.watch.iter_mut() {
                w.path = absolute(&base, &w.path);
            }
        }
        if let Some(ext) = service.extends.as_mut() {
            if !ext.file.is_empty() {
                ext.file = absolute(&base, &ext.file);
            }
        }
    }
    for s in project
        .secrets
        .values_mut()
        .chain(project.configs.values_mut())
    {
        if !s.file.is_empty() {
            s.file = absolute(&base, &s.file);
        }
    }
}

/// Normalization on the untyped tree, for `config --no-interpolate`, where
/// values may still hold `${…}` and cannot be typed yet.
pub fn normalize_tree(
    tree: &mut serde_yaml_ng::Value,
    project_name: &str,
    working_dir: &Path,
    resolve_paths: bool,
) {
    use serde_yaml_ng::{Mapping, Value};
    let key = |s: &str| Value::String(s.to_string());
    let Value::Mapping(top) = tree else { return };
    top.insert(key("name"), key(project_name));
    let mut uses_default = false;
    if let Some(Value::Mapping(services)) = top.get_mut("services") {
        for svc in services.values_mut() {
            if svc.is_null() {
                *svc = Value::Mapping(Mapping::new());
            }
            let Value::Mapping(svc) = svc else { continue };
            if svc.get("pull_policy").and_then(Value::as_str) == Some("if_not_present") {
                svc.insert(key("pull_policy"), key("missing"));
            }
            if let Some(b) = svc.get_mut("build") {
                if let Value::String(ctx) = b {
                    let mut m = Mapping::new();
                    m.insert(key("context"), key(ctx));
                    *b = Value::Mapping(m);
                }
                if let Value::Mapping(b) = b {
                    let ctx = b
                        .get("context")
                        .and_then(Value::as_str)
                        .unwrap_or(".")
                        .to_string();
                    let ctx = if resolve_paths && !is_remote_context(&ctx) {
                        absolute(working_dir, &ctx)
                    } else {
                        ctx
                    };
                    b.insert(key("context"), key(&ctx));
                    if !b.contains_key("dockerfile") && !b.contains_key("dockerfile_inline") {
                        b.insert(key("dockerfile"), key("Dockerfile"));
                    }
                }
            }
            if svc.contains_key("provider") || svc.contains_key("network_mode") {
                continue;
            }
            let empty = match svc.get("networks") {
                None | Some(Value::Null) => true,
                Some(Value::Mapping(m)) => m.is_empty(),
                Some(Value::Sequence(s)) => s.is_empty(),
                Some(_) => false,
            };
            if empty {
                let mut m = Mapping::new();
                m.insert(key("default"), Value::Null);
                svc.insert(key("networks"), Value::Mapping(m));
                uses_default = true;
            } else if let Some(n) = svc.get("networks") {
                let has = match n {
                    Value::Mapping(m) => m.contains_key("default"),
                    Value::Sequence(s) => s.iter().any(|v| v.as_str() == Some("default")),
                    _ => false,
                };
                uses_default |= has;
            }
        }
    }
    if uses_default {
        let nets = top
            .entry(key("networks"))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if let Value::Mapping(n) = nets {
            n.entry(key("default")).or_insert(Value::Null);
        }
    }
    for section in ["networks", "volumes", "secrets", "configs"] {
        let Some(Value::Mapping(items)) = top.get_mut(section) else {
            continue;
        };
        for (k, r) in items.iter_mut() {
            if r.is_null() {
                *r = Value::Mapping(Mapping::new());
            }
            let Value::Mapping(r) = r else { continue };
            if r.contains_key("name") {
                continue;
            }
            let k = k.as_str().unwrap_or_default().to_string();
            let external = matches!(r.get("external"), Some(Value::Bool(true)));
            let name = if external {
                k
            } else {
                format!("{project_name}_{k}")
            };
            r.insert(key("name"), key(&name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean() {
        assert_eq!(clean_path("/a/b/../c/"), "/a/c");
        assert_eq!(clean_path("/data/"), "/data");
        assert_eq!(clean_path("a//b/./c"), "a/b/c");
        assert_eq!(clean_path("../x"), "../x");
        assert_eq!(clean_path("/.."), "/");
    }

    #[test]
    fn absolute_paths() {
        let base = Path::new("/proj");
        assert_eq!(absolute(base, "./data"), "/proj/data");
        assert_eq!(absolute(base, "."), "/proj");
        assert_eq!(absolute(base, "/abs/x"), "/abs/x");
        assert_eq!(absolute(base, "../up"), "/up");
    }
}
