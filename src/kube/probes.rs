//! Health and order: `healthcheck` → readiness, liveness and startup probes;
//! `depends_on` → init containers that wait for each dependency the way
//! compose does (kompose drops both: kubernetes/kompose#57, #1871).
//!
//! - `service_started`/`service_healthy`: the dependency's Service has a
//!   ready endpoint. A Service only routes to ready pods, so a TCP connect
//!   through its cluster IP (or, for a headless one, a DNS answer, which lists
//!   ready pods only) succeeds once the dependency is ready, that is healthy
//!   when it has a healthcheck (stricter than compose's `service_started`).
//! - `service_completed_successfully`: the dependency's Job is complete,
//!   waited for with `kubectl wait` under a ServiceAccount that may read Jobs.

use k8s_openapi::api::core::v1::{Container, ExecAction, Probe, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

use super::{Ctx, Object, Warnings};
use crate::compose::model::{Duration, ServiceConfig};

/// The image of the init containers that wait for a Service.
pub const WAIT_IMAGE: &str = "busybox:1.36";
/// The image of the init containers that wait for a Job.
pub const KUBECTL_IMAGE: &str = "registry.k8s.io/kubectl:v1.33.0";
/// The ServiceAccount, Role and RoleBinding that let a pod wait for Jobs.
pub const WAITER: &str = "berth-job-waiter";

fn seconds(d: Option<Duration>, default: i32) -> i32 {
    match d {
        Some(d) if d.0 > 0 => i32::try_from((d.0 as u64).div_ceil(1_000_000_000))
            .unwrap_or(i32::MAX)
            .max(1),
        _ => default,
    }
}

/// Readiness, liveness and startup probes from the healthcheck.
pub fn probes(
    name: &str,
    svc: &ServiceConfig,
    w: &mut Warnings,
) -> (Option<Probe>, Option<Probe>, Option<Probe>) {
    let Some(hc) = svc.healthcheck.as_ref().filter(|h| !h.disable) else {
        return (None, None, None);
    };
    let command = match hc.test.first().map(String::as_str) {
        Some("CMD") => hc.test[1..].to_vec(),
        Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), hc.test[1..].join(" ")],
        Some("NONE") => return (None, None, None),
        None => {
            w.add(
                name,
                "healthcheck",
                "no test: the image's HEALTHCHECK is not read; no probes",
            );
            return (None, None, None);
        }
        Some(_) => vec!["/bin/sh".into(), "-c".into(), hc.test.join(" ")],
    };
    let period = seconds(hc.interval, 30);
    let timeout = seconds(hc.timeout, 30);
    let retries = hc
        .retries
        .map_or(3, |r| i32::try_from(r).unwrap_or(i32::MAX).max(1));
    let probe = |period, failures| Probe {
        exec: Some(ExecAction {
            command: Some(command.clone()),
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(failures),
        ..Default::default()
    };
    // Compose's start period: failures do not count, checks run every
    // start_interval, the first success ends it. A startup probe is exactly
    // that, and holds the other two back until it passes.
    let startup = hc.start_period.filter(|d| d.0 > 0).map(|sp| {
        let every = seconds(hc.start_interval, 5).min(period);
        let span = seconds(Some(sp), 1);
        probe(every, (span + every - 1) / every + retries)
    });
    (
        Some(probe(period, retries)),
        Some(probe(period, retries)),
        startup,
    )
}

/// The init containers that wait for the service's dependencies, and whether
/// one of them needs the Job-reading ServiceAccount.
pub fn init_containers(
    ctx: &Ctx,
    name: &str,
    svc: &ServiceConfig,
    w: &mut Warnings,
) -> (Vec<Container>, bool) {
    let mut out = Vec::new();
    let mut needs_waiter = false;
    for (dep, d) in &svc.depends_on {
        if !ctx.selected.contains(dep) {
            continue;
        }
        let key = format!("depends_on.{dep}");
        let dname = ctx.name(dep);
        let cname = super::names::derived("wait-for", &dname);
        if d.restart {
            w.add(
                name,
                &format!("{key}.restart"),
                "restarting with the dependency has no Kubernetes mapping; left out",
            );
        }
        if d.condition == "service_completed_successfully" {
            needs_waiter = true;
            out.push(Container {
                name: cname,
                image: Some(KUBECTL_IMAGE.into()),
                args: Some(vec![
                    "wait".into(),
                    "--for=condition=complete".into(),
                    "--timeout=-1s".into(),
                    format!("job/{dname}"),
                ]),
                ..Default::default()
            });
            continue;
        }
        let dsvc = &ctx.project.services[dep];
        if !super::service::on_compose_network(dsvc) {
            w.add(
                name,
                &key,
                format!(
                    "{dep} has no Service to wait for (network_mode {:?}); not awaited",
                    dsvc.network_mode
                ),
            );
            continue;
        }
        let script = match ctx
            .ports
            .get(dep)
            .and_then(|p| p.iter().find(|p| p.protocol == "TCP"))
        {
            Some(p) => format!(
                "until nc -z -w 2 {dname} {}; do echo waiting for {dname}; sleep 2; done",
                p.port
            ),
            None => format!("until nslookup {dname}; do echo waiting for {dname}; sleep 2; done"),
        };
        out.push(Container {
            name: cname,
            image: Some(WAIT_IMAGE.into()),
            command: Some(vec!["sh".into(), "-c".into(), script]),
            ..Default::default()
        });
    }
    (out, needs_waiter)
}

/// The ServiceAccount, Role and RoleBinding of the Job waiters, when a pod needs them.
pub fn waiter_rbac(ctx: &Ctx) -> Vec<Object> {
    let needed = ctx.services().any(|(_, s)| {
        s.depends_on.iter().any(|(dep, d)| {
            d.condition == "service_completed_successfully" && ctx.selected.contains(dep)
        })
    });
    if !needed {
        return vec![];
    }
    vec![
        Object::ServiceAccount(ServiceAccount {
            metadata: ctx.meta(WAITER),
            ..Default::default()
        }),
        Object::Role(Role {
            metadata: ctx.meta(WAITER),
            rules: Some(vec![PolicyRule {
                api_groups: Some(vec!["batch".into()]),
                resources: Some(vec!["jobs".into()]),
                verbs: vec!["get".into(), "list".into(), "watch".into()],
                ..Default::default()
            }]),
        }),
        Object::RoleBinding(RoleBinding {
            metadata: ctx.meta(WAITER),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "Role".into(),
                name: WAITER.into(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: WAITER.into(),
                namespace: ctx.opts.namespace.clone(),
                ..Default::default()
            }]),
        }),
    ]
}
