//! A compose service's `build:` as a build request: docker compose's image name
//! (`image:` or `<project>-<service>`), its args, labels, target and tags, and
//! every other `build:` key (platforms, network, extra_hosts, shm_size, ulimits,
//! privileged, additional_contexts, secrets, cache_from/cache_to).
//!
//! [`set`] turns the services a command names into build jobs (one per image,
//! `service:` contexts first) and runs them in parallel waves.

pub mod set;

use std::collections::BTreeMap;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::front::{NamedContext, Request, RunDefaults, Secret, SecretSource};
use super::run::Network;
use crate::compose::model::ServiceConfig;
use crate::compose::Project;
use crate::image::oci::Platform;
use crate::image::Reference;

/// How `berth build` (or `up`) asks for a service's build.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`.
    pub pull: bool,
    /// `--build-arg K=V` (or bare `K`, taken from the environment).
    pub build_args: Vec<String>,
    /// `--ssh` ids; they win over compose `build.ssh` ids of the same name.
    pub ssh: Vec<super::ssh::SshSpec>,
}

/// Why a service cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No `build:` section.
    #[error("service {0:?} has no build section")]
    NoBuild(String),
    /// The image name is not a valid reference.
    #[error("services.{service}.image: {message}")]
    BadName {
        /// The service.
        service: String,
        /// Why.
        message: String,
    },
    /// A remote context.
    #[error("services.{0}.build.context: {1:?} is a remote context (git or URL); berth builds offline from local directories only")]
    RemoteContext(String, String),
    /// A `build:` key berth cannot honour as written.
    #[error("services.{service}.build.{key}: {message}")]
    Key {
        /// The service.
        service: String,
        /// The key path below `build`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn key_err(svc: &ServiceConfig, key: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::Key {
        service: svc.name.clone(),
        key: key.to_string(),
        message: message.into(),
    }
}

fn is_remote(s: &str) -> bool {
    s.contains("://") || s.starts_with("git@") || s.starts_with("github.com/")
}

/// The host's platform as `os/arch[/variant]`.
pub fn host_platform() -> String {
    let p = Platform::host();
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// Whether `want` (`linux/amd64`, `linux/arm64/v8`, …) is the host's platform.
fn is_host_platform(want: &str) -> bool {
    let host = Platform::host();
    let mut parts = want.split('/');
    let os = parts.next().unwrap_or("");
    let arch = parts.next().unwrap_or("");
    let variant = parts.next();
    os == host.os
        && arch == host.architecture
        && variant.is_none_or(|v| host.variant.as_deref().is_none_or(|h| h == v))
}

/// The services `svc`'s build needs built first: its `service:NAME` contexts.
pub fn service_contexts(svc: &ServiceConfig) -> Vec<String> {
    svc.build
        .as_ref()
        .map(|b| {
            b.additional_contexts
                .values()
                .filter_map(|v| v.strip_prefix("service:"))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// What berth accepts in `svc`'s `build:` but does not honour: one line each,
/// for the user to see (never silent).
pub fn warnings(svc: &ServiceConfig) -> Vec<String> {
    let Some(b) = &svc.build else {
        return vec![];
    };
    let n = &svc.name;
    let mut out = vec![];
    for c in &b.cache_from {
        out.push(format!(
            "services.{n}.build.cache_from: {c:?} is not used: berth's build cache is local (its own steps are reused)"
        ));
    }
    for c in &b.cache_to {
        out.push(format!(
            "services.{n}.build.cache_to: {c:?} is not exported: berth keeps its build cache in its state root"
        ));
    }
    if !b.no_cache_filter.is_empty() {
        out.push(format!(
            "services.{n}.build.no_cache_filter: not supported; use --no-cache to rebuild every step"
        ));
    }
    if !b.entitlements.is_empty() {
        out.push(format!(
            "services.{n}.build.entitlements: ignored (use build.privileged for privileged RUN steps)"
        ));
    }
    for (k, v) in [("sbom", &b.sbom), ("provenance", &b.provenance)] {
        if !v.is_empty() && v != "false" {
            out.push(format!(
                "services.{n}.build.{k}: attestations are not produced by berth's builder"
            ));
        }
    }
    if !b.isolation.is_empty() && b.isolation != "default" {
        out.push(format!(
            "services.{n}.build.isolation: {:?} is a Windows setting; ignored",
            b.isolation
        ));
    }
    out
}

fn env_value(project: &Project, k: &str) -> Option<String> {
    project
        .environment
        .get(k)
        .cloned()
        .or_else(|| std::env::var(k).ok())
}

/// The request for `svc` of `project`.
pub fn request(
    project: &Project,
    svc: &ServiceConfig,
    flags: &Flags,
) -> Result<Request, ServiceError> {
    let b = svc
        .build
        .as_ref()
        .ok_or_else(|| ServiceError::NoBuild(svc.name.clone()))?;
    if is_remote(&b.context) {
        return Err(ServiceError::RemoteContext(
            svc.name.clone(),
            b.context.clone(),
        ));
    }
    for p in &b.platforms {
        if !is_host_platform(p) {
            return Err(key_err(
                svc,
                "platforms",
                format!(
                    "{p:?} is not this host's platform ({}); berth builds for the host only",
                    host_platform()
                ),
            ));
        }
    }
    if !svc.platform.is_empty() && !is_host_platform(&svc.platform) {
        return Err(ServiceError::Key {
            service: svc.name.clone(),
            key: "platform".into(),
            message: format!(
                "{:?} is not this host's platform ({}); berth builds for the host only",
                svc.platform,
                host_platform()
            ),
        });
    }
    let name = project.image_name(svc);
    let mut tags = vec![];
    for t in std::iter::once(&name).chain(b.tags.iter()) {
        let r = Reference::parse(t).map_err(|e| ServiceError::BadName {
            service: svc.name.clone(),
            message: format!("{t:?}: {e}"),
        })?;
        if !tags.contains(&r) {
            tags.push(r);
        }
    }
    let mut args: IndexMap<String, String> = IndexMap::new();
    for (k, v) in &b.args {
        let v = match v {
            Some(v) => Some(v.clone()),
            None => env_value(project, k),
        };
        if let Some(v) = v {
            args.insert(k.clone(), v);
        }
    }
    for a in &flags.build_args {
        match a.split_once('=') {
            Some((k, v)) => {
                args.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Some(v) = env_value(project, a) {
                    args.insert(a.clone(), v);
                }
            }
        }
    }
    let mut labels: BTreeMap<String, String> = b.labels.clone();
    labels.insert("com.docker.compose.project".into(), project.name.clone());
    labels.insert("com.docker.compose.service".into(), svc.name.clone());
    labels.insert(
        "com.docker.compose.version".into(),
        env!("CARGO_PKG_VERSION").into(),
    );
    let mut named_contexts = BTreeMap::new();
    for (k, v) in &b.additional_contexts {
        let ctx = if let Some(r) = v.strip_prefix("docker-image://") {
            NamedContext::Image(r.to_string())
        } else if let Some(dep) = v.strip_prefix("service:") {
            let other = project.services.get(dep).ok_or_else(|| {
                key_err(
                    svc,
                    &format!("additional_contexts.{k}"),
                    format!("service {dep:?} is not in the project"),
                )
            })?;
            if other.build.is_none() {
                return Err(key_err(
                    svc,
                    &format!("additional_contexts.{k}"),
                    format!("service {dep:?} has no build section to build first"),
                ));
            }
            NamedContext::Image(project.image_name(other))
        } else if v.starts_with("oci-layout://") || v.starts_with("target:") {
            return Err(key_err(
                svc,
                &format!("additional_contexts.{k}"),
                format!(
                    "{v:?}: only directories, docker-image:// and service: contexts are supported"
                ),
            ));
        } else if is_remote(v) {
            return Err(key_err(
                svc,
                &format!("additional_contexts.{k}"),
                format!(
                    "{v:?} is a remote context; berth builds offline from local directories only"
                ),
            ));
        } else {
            let p = PathBuf::from(v);
            if !p.is_dir() {
                return Err(key_err(
                    svc,
                    &format!("additional_contexts.{k}"),
                    format!("{v:?} is not a directory"),
                ));
            }
            NamedContext::Dir(p)
        };
        named_contexts.insert(k.clone(), ctx);
    }
    let network = match b.network.as_str() {
        "" | "default" => Network::Default,
        "host" => Network::Host,
        "none" => Network::None,
        other => {
            return Err(key_err(
                svc,
                "network",
                format!("{other:?}: a build's RUN steps can use default, host or none"),
            ))
        }
    };
    let mut extra_hosts = vec![];
    for (host, addrs) in &b.extra_hosts {
        for a in addrs {
            if a.parse::<std::net::IpAddr>().is_err() && a != "host-gateway" {
                return Err(key_err(
                    svc,
                    &format!("extra_hosts.{host}"),
                    format!("{a:?} is not an IP address"),
                ));
            }
            // BuildKit's host-gateway is the host: a build's RUN shares its network.
            let a = if a == "host-gateway" { "127.0.0.1" } else { a };
            extra_hosts.push((host.clone(), a.to_string()));
        }
    }
    let mut ulimits = IndexMap::new();
    for (k, u) in &b.ulimits {
        let (soft, hard) = if u.single != 0 {
            (u.single, u.single)
        } else {
            (u.soft, u.hard)
        };
        if soft < 0 || hard < 0 || soft > hard {
            return Err(key_err(
                svc,
                &format!("ulimits.{k}"),
                format!(
                    "soft {soft} and hard {hard}: soft must be at most hard, both non-negative"
                ),
            ));
        }
        ulimits.insert(k.clone(), (soft as u64, hard as u64));
    }
    let shm_size = (b.shm_size.0 > 0).then_some(b.shm_size.0 as u64);
    let mut secrets = vec![];
    for (i, r) in b.secrets.iter().enumerate() {
        let key = format!("secrets[{i}]");
        let def = project.secrets.get(&r.source).ok_or_else(|| {
            key_err(
                svc,
                &key,
                format!(
                    "secret {:?} is not defined in the top-level secrets",
                    r.source
                ),
            )
        })?;
        let source = if !def.file.is_empty() {
            SecretSource::File(PathBuf::from(&def.file))
        } else if !def.environment.is_empty() {
            // The project's environment (.env included) first, then berth's own.
            match project.environment.get(&def.environment) {
                Some(v) => SecretSource::Value(v.clone()),
                None => SecretSource::Env(def.environment.clone()),
            }
        } else if !def.content.is_empty() {
            SecretSource::Value(def.content.clone())
        } else {
            return Err(key_err(
                svc,
                &key,
                format!(
                    "secret {:?} has no file, environment or content a build can read (external secrets are not)",
                    r.source
                ),
            ));
        };
        secrets.push(Secret {
            id: secret_id(r),
            source,
        });
    }
    let mut ssh = flags.ssh.clone();
    for (id, paths) in &b.ssh {
        let spec = super::ssh::SshSpec::new(id, paths);
        if !ssh.iter().any(|s| s.id == spec.id) {
            ssh.push(spec);
        }
    }
    Ok(Request {
        context: b.context.clone().into(),
        dockerfile: (!b.dockerfile.is_empty()).then(|| b.dockerfile.clone()),
        dockerfile_inline: (!b.dockerfile_inline.is_empty()).then(|| b.dockerfile_inline.clone()),
        args,
        target: (!b.target.is_empty()).then(|| b.target.clone()),
        labels,
        tags,
        no_cache: flags.no_cache || b.no_cache,
        pull: flags.pull || b.pull,
        named_contexts,
        run_defaults: RunDefaults {
            network,
            extra_hosts,
            shm_size,
            ulimits,
            privileged: b.privileged,
        },
        secrets,
        ssh,
        // Every platform asked for is the host's (checked above).
        platform: None,
    })
}

/// `build --print`: the requests as buildx bake's JSON (`group` and `target`).
pub fn bake_json(project: &Project, jobs: &[set::Job]) -> serde_json::Value {
    use serde_json::json;
    let mut targets = serde_json::Map::new();
    let mut names = vec![];
    for j in jobs {
        let svc = &project.services[&j.service];
        let b = svc.build.as_ref().expect("a job has a build section");
        let r = &j.request;
        let contexts: BTreeMap<String, String> = b.additional_contexts.clone();
        let mut t = json!({
            "context": r.context,
            "dockerfile": r.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into()),
            "args": r.args,
            "labels": r.labels,
            "tags": r.tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            "output": ["type=docker"],
        });
        if let Some(i) = &r.dockerfile_inline {
            t["dockerfile-inline"] = json!(i);
        }
        if let Some(tg) = &r.target {
            t["target"] = json!(tg);
        }
        if !contexts.is_empty() {
            t["contexts"] = json!(contexts
                .into_iter()
                .map(|(k, v)| {
                    let v = match v.strip_prefix("service:") {
                        Some(s) => format!("target:{s}"),
                        None => v,
                    };
                    (k, v)
                })
                .collect::<BTreeMap<_, _>>());
        }
        if !b.network.is_empty() {
            t["network"] = json!(b.network);
        }
        if !b.platforms.is_empty() {
            t["platforms"] = json!(b.platforms);
        }
        if r.no_cache {
            t["no-cache"] = json!(true);
        }
        if r.pull {
            t["pull"] = json!(true);
        }
        if !b.cache_from.is_empty() {
            t["cache-from"] = json!(b.cache_from);
        }
        if !b.cache_to.is_empty() {
            t["cache-to"] = json!(b.cache_to);
        }
        if b.privileged {
            t["entitlements"] = json!(["security.insecure"]);
        }
        if !b.secrets.is_empty() {
            t["secret"] = json!(b
                .secrets
                .iter()
                .map(|s| format!("id={}", secret_id(s)))
                .collect::<Vec<_>>());
        }
        if !r.ssh.is_empty() {
            t["ssh"] = json!(r
                .ssh
                .iter()
                .map(|s| {
                    let paths: Vec<String> =
                        s.paths.iter().map(|p| p.display().to_string()).collect();
                    format!("{}={}", s.id, paths.join(","))
                })
                .collect::<Vec<_>>());
        }
        names.push(j.service.clone());
        targets.insert(j.service.clone(), t);
    }
    json!({"group": {"default": {"targets": names}}, "target": targets})
}

/// A build secret's id: its `target` when given, else its name (docker compose).
pub fn secret_id(s: &crate::compose::model::file_object::FileReferenceConfig) -> String {
    // The loader's default target for a service secret is no id of the user's.
    if s.target.is_empty() || s.target == format!("/run/secrets/{}", s.source) {
        s.source.clone()
    } else {
        s.target.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(yaml: &str) -> (Project, tempfile::TempDir) {
        crate::compose::test_project(yaml, &["extra"])
    }

    #[test]
    fn keys_reach_the_request() {
        let (p, _d) = project(
            "services:\n  a:\n    build:\n      context: .\n      network: host\n      extra_hosts: ['db=10.0.0.5']\n      shm_size: 64m\n      ulimits: {nofile: {soft: 100, hard: 200}}\n      privileged: true\n      tags: ['x/a:1', 'a-other:v1']\n      additional_contexts: {dir: ./extra, img: 'docker-image://busybox', b: 'service:b'}\n  b:\n    build: .\n",
        );
        let r = request(&p, &p.services["a"], &Flags::default()).unwrap();
        assert_eq!(r.run_defaults.network, Network::Host);
        assert_eq!(
            r.run_defaults.extra_hosts,
            vec![("db".into(), "10.0.0.5".into())]
        );
        assert_eq!(r.run_defaults.shm_size, Some(64 << 20));
        assert_eq!(r.run_defaults.ulimits["nofile"], (100, 200));
        assert!(r.run_defaults.privileged);
        let tags: Vec<String> = r.tags.iter().map(|t| t.familiar()).collect();
        assert_eq!(tags, ["p-a:latest", "x/a:1", "a-other:v1"]);
        assert!(matches!(r.named_contexts["dir"], NamedContext::Dir(_)));
        assert_eq!(
            r.named_contexts["img"],
            NamedContext::Image("busybox".into())
        );
        assert_eq!(r.named_contexts["b"], NamedContext::Image("p-b".into()));
        assert_eq!(service_contexts(&p.services["a"]), ["b"]);
    }

    #[test]
    fn ssh_ids_merge_with_the_cli_winning() {
        use super::super::ssh::SshSpec;
        let (p, _d) = project(
            "services:\n  a:\n    build:\n      context: .\n      ssh:\n        - default\n        - k=./key\n        - x=./x,/abs\n",
        );
        let flags = Flags {
            ssh: vec![SshSpec::new("k", "/cli/key")],
            ..Default::default()
        };
        let r = request(&p, &p.services["a"], &flags).unwrap();
        let x = format!("{}/x,/abs", p.working_dir.display());
        assert_eq!(
            r.ssh,
            [
                SshSpec::new("k", "/cli/key"),
                SshSpec::new("default", ""),
                SshSpec::new("x", &x),
            ]
        );
        assert!(warnings(&p.services["a"]).is_empty());
    }

    #[test]
    fn bad_keys_are_named() {
        let (p, _d) = project("services:\n  a:\n    build:\n      context: .\n      platforms: ['linux/s390x', 'linux/arm64']\n");
        let e = request(&p, &p.services["a"], &Flags::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("services.a.build.platforms") && e.contains("host"),
            "{e}"
        );
        let (p, _d) =
            project("services:\n  a:\n    build:\n      context: https://github.com/x/y.git\n");
        let e = request(&p, &p.services["a"], &Flags::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("offline"), "{e}");
        let (p, _d) = project("services:\n  a:\n    build:\n      context: .\n      network: mynet\n      cache_from: [type=registry,ref=x]\n");
        let e = request(&p, &p.services["a"], &Flags::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("services.a.build.network"), "{e}");
        assert!(warnings(&p.services["a"])[0].contains("cache_from"));
        let (p, _d) = project("services:\n  a:\n    build:\n      context: .\n      additional_contexts: {x: 'oci-layout://./l'}\n");
        let e = request(&p, &p.services["a"], &Flags::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("services.a.build.additional_contexts.x"), "{e}");
    }
}
