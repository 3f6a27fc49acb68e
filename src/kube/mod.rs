//! `berth bridge convert`: a compose project to Kubernetes manifests that keep
//! its meaning (issue 16).
//!
//! The project comes from berth's own loader (`load`), so the conversion works
//! offline and sees exactly what `berth up` would run. Each concern has its
//! file: `names` (DNS-1123), `workload` (Deployment/DaemonSet/Job and the pod),
//! `service` (Services), `storage` (PVCs, tmpfs, bind mounts), `config`
//! (ConfigMaps/Secrets), `probes` (healthcheck and depends_on), `policy`
//! (NetworkPolicies), `security` (securityContext), `resources`, `warnings`
//! (every compose key not mapped, once per service), `render` (files,
//! kustomization.yaml or one YAML stream) and `check` (the rules only an API
//! server enforces). Objects are typed `k8s-openapi` structs, never
//! hand-written YAML.

pub mod check;
pub mod config;
pub mod load;
pub mod names;
pub mod object;
pub mod policy;
pub mod probes;
pub mod push;
pub mod render;
pub mod resources;
pub mod security;
pub mod service;
pub mod storage;
pub mod warnings;
pub mod workload;

use std::collections::{BTreeMap, BTreeSet};

use crate::compose::model::ServiceConfig;
use crate::compose::Project;

pub use object::Object;
pub use warnings::{Warning, Warnings};

/// How a published port leaves the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PublishAs {
    /// A `LoadBalancer` Service on the compose `published` port.
    #[default]
    LoadBalancer,
    /// A `NodePort` Service (the compose port when it is in 30000-32767).
    NodePort,
}

/// What to do with a bind mount, which has no meaning off the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BindMounts {
    /// Leave the mount out (with a warning naming it).
    #[default]
    Skip,
    /// A `hostPath` volume: the same path on whichever node runs the pod.
    HostPath,
    /// A ConfigMap holding the file (files only; directories are skipped).
    ConfigMap,
}

/// Options of one conversion.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `metadata.namespace` of every object (and of kustomization.yaml).
    pub namespace: Option<String>,
    /// Services to convert (with what they depend on); empty: all.
    pub services: Vec<String>,
    /// NodePort or LoadBalancer for published ports.
    pub publish_as: PublishAs,
    /// The choice for bind mounts.
    pub bind_mounts: BindMounts,
}

/// What the conversion knows beyond the compose model.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Per service, the environment variables that came from `env_file`
    /// (they go to a ConfigMap; `environment` stays inline in the pod).
    pub env_file_vars: BTreeMap<String, BTreeSet<String>>,
    /// Per image reference, the `EXPOSE`d ports (`80/tcp`) of the image in
    /// berth's store; absent when the image is not there.
    pub image_ports: BTreeMap<String, Vec<String>>,
    /// Per service, the reference (`name@digest`) its built image was pushed
    /// as (`--push`); the manifests use it.
    pub pushed: BTreeMap<String, String>,
}

/// Why a project cannot be converted.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// Two compose names become one Kubernetes name.
    #[error("{what}s {first:?} and {second:?} both become {name:?} in Kubernetes (DNS-1123 names); rename one")]
    NameCollision {
        /// Which kind of name.
        what: String,
        /// The first compose name.
        first: String,
        /// The second compose name.
        second: String,
        /// The name both become.
        name: String,
    },
    /// A service named on the command line is not in the project.
    #[error("no such service: {0}")]
    NoSuchService(String),
    /// `--namespace` is not a DNS-1123 label.
    #[error("namespace {0:?} is not a valid Kubernetes namespace (lower case letters, digits and '-', at most 63)")]
    BadNamespace(String),
    /// A file the manifests need (secret, config, bind-mounted file) could not be read.
    #[error("{what} {name:?}: reading {path}: {source}")]
    Read {
        /// `secret`, `config`, `bind mount`.
        what: String,
        /// Its compose name.
        name: String,
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The generated manifests break a rule the API server enforces (a bug in berth).
    #[error("generated manifests are invalid: {0}")]
    Invalid(String),
    /// Serializing an object failed.
    #[error("rendering {0}: {1}")]
    Render(String, String),
}

/// The result of a conversion.
#[derive(Debug, Default)]
pub struct Bundle {
    /// Every object, in output order.
    pub objects: Vec<Object>,
    /// What was not mapped or was mapped with a choice the user should know.
    pub warnings: Warnings,
}

/// Names shared by every part of one conversion.
pub struct Ctx<'a> {
    /// The project.
    pub project: &'a Project,
    /// The options.
    pub opts: &'a Options,
    /// Extra facts (env files, image ports).
    pub facts: &'a Facts,
    /// Compose service name → Kubernetes name.
    pub services: BTreeMap<String, String>,
    /// Compose volume key → PVC name.
    pub volumes: BTreeMap<String, String>,
    /// Compose network key → label-safe name.
    pub networks: BTreeMap<String, String>,
    /// Services converted (the selection and what it depends on).
    pub selected: BTreeSet<String>,
    /// Services that become Jobs.
    pub jobs: BTreeSet<String>,
    /// Per service, the ports it listens on (its ClusterIP Service), if any.
    pub ports: BTreeMap<String, Vec<service::Port>>,
}

impl Ctx<'_> {
    /// The selected services, by compose name, sorted.
    pub fn services(&self) -> impl Iterator<Item = (&String, &ServiceConfig)> {
        self.project
            .services
            .iter()
            .filter(|(n, _)| self.selected.contains(*n))
    }

    /// The Kubernetes name of a compose service.
    pub fn name(&self, service: &str) -> String {
        self.services
            .get(service)
            .cloned()
            .unwrap_or_else(|| names::label(service))
    }

    /// The labels every object of the project carries.
    pub fn project_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(
            "app.kubernetes.io/part-of".to_string(),
            names::label(&self.project.name),
        )])
    }

    /// The labels that select a service's pods.
    pub fn selector(&self, service: &str) -> BTreeMap<String, String> {
        let mut l = self.project_labels();
        l.insert("app.kubernetes.io/name".to_string(), self.name(service));
        l
    }

    /// Object metadata: name, namespace, project labels.
    pub fn meta(&self, name: &str) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_string()),
            namespace: self.opts.namespace.clone(),
            labels: Some(self.project_labels()),
            ..Default::default()
        }
    }
}

/// Converts a loaded project to Kubernetes objects.
pub fn convert(project: &Project, opts: &Options, facts: &Facts) -> Result<Bundle, KubeError> {
    if let Some(ns) = &opts.namespace {
        if !names::is_dns1123_label(ns) {
            return Err(KubeError::BadNamespace(ns.clone()));
        }
    }
    let selected = select(project, &opts.services)?;
    let mut ctx = Ctx {
        project,
        opts,
        facts,
        services: names::assign("service", selected.iter())?,
        volumes: names::assign("volume", project.volumes.keys())?,
        networks: names::assign("network", project.networks.keys())?,
        selected,
        jobs: BTreeSet::new(),
        ports: BTreeMap::new(),
    };
    let mut w = Warnings::default();
    ctx.jobs = workload::jobs(&ctx);
    let ports: BTreeMap<String, Vec<service::Port>> = ctx
        .services()
        .map(|(name, svc)| (name.clone(), service::listening_ports(&ctx, svc, &mut w)))
        .collect();
    ctx.ports = ports;
    let mut objects = Vec::new();
    objects.extend(config::objects(&ctx, &mut w)?);
    objects.extend(storage::claims(&ctx, &mut w));
    objects.extend(probes::waiter_rbac(&ctx));
    for (name, svc) in ctx.services() {
        objects.push(workload::workload(&ctx, name, svc, &mut w)?);
        objects.extend(service::services(&ctx, name, svc, &mut w));
    }
    objects.extend(policy::policies(&ctx, &mut w));
    warnings::unmapped(&ctx, &mut w);
    objects.sort_by_key(|o| (o.order(), o.name()));
    check::check(&objects).map_err(|e| KubeError::Invalid(e.join("; ")))?;
    Ok(Bundle {
        objects,
        warnings: w,
    })
}

/// The services named (all when none) and, transitively, what they depend on.
pub fn select(project: &Project, wanted: &[String]) -> Result<BTreeSet<String>, KubeError> {
    if wanted.is_empty() {
        return Ok(project.services.keys().cloned().collect());
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = wanted.to_vec();
    while let Some(n) = todo.pop() {
        let svc = project
            .services
            .get(&n)
            .ok_or_else(|| KubeError::NoSuchService(n.clone()))?;
        if out.insert(n.clone()) {
            todo.extend(
                svc.depends_on
                    .keys()
                    .filter(|d| project.services.contains_key(*d))
                    .cloned(),
            );
        }
    }
    Ok(out)
}
