//! Workloads: a service becomes a Deployment (`deploy.mode: global`: a
//! DaemonSet), or a Job when it is not meant to run forever (`restart: no`,
//! `on-failure`, or others wait for it with `service_completed_successfully`).
//! A Deployment's pods always have `restartPolicy: Always`, the only value the
//! API server accepts there (kubernetes/kompose#342).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, DeploymentStrategy,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar, HostAlias, PodDNSConfig,
    PodDNSConfigOption, PodSpec, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::{
    config, names, policy, probes, resources, security, storage, Ctx, KubeError, Object, Warnings,
};
use crate::compose::model::ServiceConfig;

/// The restart condition in effect: `deploy.restart_policy.condition` over `restart`.
fn restart_of(svc: &ServiceConfig) -> String {
    if let Some(c) = svc
        .deploy
        .as_ref()
        .and_then(|d| d.restart_policy.as_ref())
        .map(|r| r.condition.clone())
        .filter(|c| !c.is_empty())
    {
        return match c.as_str() {
            "none" => "no".to_string(),
            "any" => "always".to_string(),
            other => other.to_string(),
        };
    }
    svc.restart.clone()
}

/// The services that become Jobs.
pub fn jobs(ctx: &Ctx) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (name, svc) in ctx.services() {
        let r = restart_of(svc);
        if r == "no" || r.starts_with("on-failure") {
            out.insert(name.clone());
        }
        for (dep, d) in &svc.depends_on {
            if d.condition == "service_completed_successfully" && ctx.selected.contains(dep) {
                out.insert(dep.clone());
            }
        }
    }
    out
}

/// The Deployment, DaemonSet or Job of one service.
pub fn workload(
    ctx: &Ctx,
    name: &str,
    svc: &ServiceConfig,
    w: &mut Warnings,
) -> Result<Object, KubeError> {
    let kname = ctx.name(name);
    let is_job = ctx.jobs.contains(name);
    let global = svc.deploy.as_ref().is_some_and(|d| d.mode == "global");
    let restart = restart_of(svc);

    let (pod, rwo) = pod_spec(ctx, name, svc, w)?;
    let mut labels = ctx.selector(name);
    labels.extend(policy::network_labels(ctx, svc));
    let mut annotations: BTreeMap<String, String> = svc.annotations.clone();
    annotations.extend(svc.labels.clone());
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        }),
        spec: Some(pod),
    };
    let mut meta = ctx.meta(&kname);
    if let Some(d) = svc.deploy.as_ref().filter(|d| !d.labels.is_empty()) {
        meta.annotations = Some(d.labels.clone());
    }
    let selector = LabelSelector {
        match_labels: Some(ctx.selector(name)),
        ..Default::default()
    };

    if is_job {
        let mut template = template;
        let spec = template.spec.as_mut().expect("pod spec set above");
        let backoff = if let Some(n) = restart.strip_prefix("on-failure:") {
            spec.restart_policy = Some("OnFailure".into());
            n.parse::<i32>().ok()
        } else if restart.starts_with("on-failure") {
            spec.restart_policy = Some("OnFailure".into());
            svc.deploy
                .as_ref()
                .and_then(|d| d.restart_policy.as_ref())
                .and_then(|r| r.max_attempts)
                .and_then(|n| i32::try_from(n).ok())
        } else {
            if restart == "always" || restart == "unless-stopped" {
                w.add(
                    name,
                    "restart",
                    format!("{restart:?}, but other services wait for it to complete: it runs as a Job restarted on failure"),
                );
                spec.restart_policy = Some("OnFailure".into());
            } else {
                spec.restart_policy = Some("Never".into());
            }
            Some(0)
        };
        if svc.get_scale() != 1 {
            w.add(
                name,
                "deploy.replicas",
                "a Job runs one pod to completion; replicas left out",
            );
        }
        if global {
            w.add(
                name,
                "deploy.mode",
                "global one-shot services have no Kubernetes mapping; it runs as one Job",
            );
        }
        return Ok(Object::Job(Job {
            metadata: meta,
            spec: Some(JobSpec {
                backoff_limit: backoff,
                template,
                ..Default::default()
            }),
            ..Default::default()
        }));
    }

    if global {
        if svc.get_scale() != 1 {
            w.add(
                name,
                "deploy.replicas",
                "deploy.mode global runs one pod per node; replicas left out",
            );
        }
        return Ok(Object::DaemonSet(DaemonSet {
            metadata: meta,
            spec: Some(DaemonSetSpec {
                selector,
                template,
                ..Default::default()
            }),
            ..Default::default()
        }));
    }
    let replicas = i32::try_from(svc.get_scale()).unwrap_or(1);
    Ok(Object::Deployment(Deployment {
        metadata: meta,
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector,
            // A ReadWriteOnce claim attaches to one node: a rolling update's new
            // pod would wait forever for the old one's volume.
            strategy: rwo.then(|| DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..Default::default()
            }),
            template,
            ..Default::default()
        }),
        ..Default::default()
    }))
}

/// The pod of one service, and whether it mounts a ReadWriteOnce claim.
fn pod_spec(
    ctx: &Ctx,
    name: &str,
    svc: &ServiceConfig,
    w: &mut Warnings,
) -> Result<(PodSpec, bool), KubeError> {
    let kname = ctx.name(name);
    let (mut volumes, mut mounts, rwo) = storage::mounts(ctx, name, svc, w)?;
    let (cvols, cmounts) = config::mounts(name, svc, w);
    volumes.extend(cvols);
    mounts.extend(cmounts);
    let (readiness, liveness, startup) = probes::probes(name, svc, w);
    let (init, needs_waiter) = probes::init_containers(ctx, name, svc, w);

    let pushed = ctx.facts.pushed.get(name).cloned();
    let image = pushed
        .clone()
        .unwrap_or_else(|| ctx.project.image_name(svc));
    if svc.build.is_some() && pushed.is_none() {
        w.add(
            name,
            "build",
            format!("image {image:?} is built by berth and exists only locally: set `image:` to a reference in a registry the cluster can pull from and convert with --push"),
        );
    }
    let pull = match svc.pull_policy.as_str() {
        "always" => Some("Always"),
        "never" => Some("Never"),
        "missing" | "if_not_present" => Some("IfNotPresent"),
        "" | "build" => None,
        other => {
            w.add(
                name,
                "pull_policy",
                format!("{other:?} has no Kubernetes mapping; the cluster default applies"),
            );
            None
        }
    };

    let from_files = ctx.facts.env_file_vars.get(name);
    let env: Vec<EnvVar> = svc
        .environment
        .iter()
        .filter(|(k, _)| !from_files.is_some_and(|f| f.contains(*k)))
        .filter_map(|(k, v)| {
            Some(EnvVar {
                name: k.clone(),
                value: Some(v.clone()?),
                ..Default::default()
            })
        })
        .collect();
    let env_from = config::has_env_config(ctx, name).then(|| {
        vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: names::derived(&kname, "env"),
                ..Default::default()
            }),
            ..Default::default()
        }]
    });

    let ports = ctx.ports.get(name).cloned().unwrap_or_default();
    let container = Container {
        name: kname.clone(),
        image: Some(image),
        image_pull_policy: pull.map(String::from),
        command: svc.entrypoint.clone().filter(|c| !c.is_empty()),
        args: svc.command.clone().filter(|c| !c.is_empty()),
        working_dir: (!svc.working_dir.is_empty()).then(|| svc.working_dir.clone()),
        env: (!env.is_empty()).then_some(env),
        env_from,
        ports: (!ports.is_empty()).then(|| {
            ports
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: p.port,
                    protocol: Some(p.protocol.clone()),
                    ..Default::default()
                })
                .collect()
        }),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        readiness_probe: readiness,
        liveness_probe: liveness,
        startup_probe: startup,
        resources: resources::resources(name, svc, w),
        security_context: security::container(name, svc, w),
        tty: svc.tty.then_some(true),
        stdin: svc.stdin_open.then_some(true),
        ..Default::default()
    };

    let mut pod = PodSpec {
        containers: vec![container],
        init_containers: (!init.is_empty()).then_some(init),
        volumes: (!volumes.is_empty()).then_some(volumes),
        restart_policy: Some("Always".into()),
        security_context: security::pod(name, svc, w),
        service_account_name: needs_waiter.then(|| probes::WAITER.to_string()),
        termination_grace_period_seconds: svc
            .stop_grace_period
            .map(|d| (d.0.max(0) as u64).div_ceil(1_000_000_000) as i64),
        ..Default::default()
    };
    if svc.init == Some(true) {
        // The pod's pause container becomes pid 1 and reaps zombies, which is
        // what compose's `init: true` is for.
        pod.share_process_namespace = Some(true);
    }
    if !svc.hostname.is_empty() {
        pod.hostname = Some(names::label(&svc.hostname));
    }
    match svc.network_mode.as_str() {
        "host" => pod.host_network = Some(true),
        "" | "bridge" | "none" => {}
        other => w.add(
            name,
            "network_mode",
            format!("{other:?} (sharing another container's network) has no mapping here; the pod gets its own network"),
        ),
    }
    if svc.pid == "host" {
        pod.host_pid = Some(true);
    } else if !svc.pid.is_empty() {
        w.add(
            name,
            "pid",
            format!("{:?} has no Kubernetes mapping; left out", svc.pid),
        );
    }
    if svc.ipc == "host" {
        pod.host_ipc = Some(true);
    } else if !svc.ipc.is_empty() && svc.ipc != "private" && svc.ipc != "shareable" {
        w.add(
            name,
            "ipc",
            format!("{:?} has no Kubernetes mapping; left out", svc.ipc),
        );
    }
    if !svc.dns.is_empty() || !svc.dns_search.is_empty() || !svc.dns_opt.is_empty() {
        pod.dns_config = Some(PodDNSConfig {
            nameservers: (!svc.dns.is_empty()).then(|| svc.dns.clone()),
            searches: (!svc.dns_search.is_empty()).then(|| svc.dns_search.clone()),
            options: (!svc.dns_opt.is_empty()).then(|| {
                svc.dns_opt
                    .iter()
                    .map(|o| {
                        let (n, v) = o
                            .split_once(':')
                            .map_or((o.as_str(), None), |(a, b)| (a, Some(b.to_string())));
                        PodDNSConfigOption {
                            name: Some(n.to_string()),
                            value: v,
                        }
                    })
                    .collect()
            }),
        });
        if !svc.dns.is_empty() {
            // Nameservers of their own replace the cluster DNS, as in compose.
            pod.dns_policy = Some("None".into());
        }
    }
    if !svc.extra_hosts.is_empty() {
        let mut by_ip: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (host, ips) in &svc.extra_hosts {
            for ip in ips {
                if ip == "host-gateway" {
                    w.add(
                        name,
                        "extra_hosts",
                        "host-gateway has no meaning in a cluster; that entry is left out",
                    );
                    continue;
                }
                by_ip.entry(ip.clone()).or_default().push(host.clone());
            }
        }
        pod.host_aliases = Some(
            by_ip
                .into_iter()
                .map(|(ip, hostnames)| HostAlias {
                    ip,
                    hostnames: Some(hostnames),
                })
                .collect(),
        );
    }
    if !svc.platform.is_empty() {
        let mut sel = BTreeMap::new();
        let mut parts = svc.platform.split('/');
        if let Some(os) = parts.next() {
            sel.insert("kubernetes.io/os".to_string(), os.to_string());
        }
        if let Some(arch) = parts.next() {
            sel.insert("kubernetes.io/arch".to_string(), arch.to_string());
        }
        pod.node_selector = Some(sel);
    }
    Ok((pod, rwo))
}
