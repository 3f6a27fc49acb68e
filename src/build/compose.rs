//! A compose service's `build:` as a build request: docker compose's image name
//! (`image:` or `<project>-<service>`), its args, labels, target and tags.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::front::Request;
use crate::compose::model::ServiceConfig;
use crate::compose::Project;
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
    #[error("services.{0}.build.context: only local directories are supported")]
    RemoteContext(String),
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
    if b.context.contains("://") || b.context.starts_with("git@") {
        return Err(ServiceError::RemoteContext(svc.name.clone()));
    }
    let name = project.image_name(svc);
    let mut tags = vec![];
    for t in std::iter::once(&name).chain(b.tags.iter()) {
        let r = Reference::parse(t).map_err(|e| ServiceError::BadName {
            service: svc.name.clone(),
            message: e.to_string(),
        })?;
        if !tags.contains(&r) {
            tags.push(r);
        }
    }
    let mut args: IndexMap<String, String> = IndexMap::new();
    for (k, v) in &b.args {
        let v = match v {
            Some(v) => Some(v.clone()),
            None => project
                .environment
                .get(k)
                .cloned()
                .or_else(|| std::env::var(k).ok()),
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
                if let Some(v) = project
                    .environment
                    .get(a)
                    .cloned()
                    .or_else(|| std::env::var(a).ok())
                {
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
        ..Request::default()
    })
}
