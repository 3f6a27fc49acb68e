//! The rules only an API server enforces, which schema validation
//! (`kubernetes-validate`) cannot see (research/KUBERNETES.md A.5, b1 b2 b3
//! b8 b10): DNS-1123 names of at most 63 characters, port names of at most
//! 15, Deployments only with `restartPolicy: Always`, Services with at least
//! one port (unless headless), selectors that match their pods' labels.
//! `convert` runs them on its own output; the tests run them on golden files.

use std::collections::{BTreeMap, BTreeSet};

use super::names::{is_dns1123_label, is_port_name};
use super::Object;

fn matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Every broken rule, as `Kind/name: what`; empty when all hold.
pub fn check(objects: &[Object]) -> Result<(), Vec<String>> {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    let mut pod_labels: Vec<BTreeMap<String, String>> = Vec::new();
    for o in objects {
        let id = format!("{}/{}", o.kind(), o.name());
        if !seen.insert(id.clone()) {
            errs.push(format!("{id}: defined twice"));
        }
        if !is_dns1123_label(&o.name()) {
            errs.push(format!(
                "{id}: name is not a DNS-1123 label of at most 63 characters"
            ));
        }
        for (k, v) in o.meta().labels.iter().flatten() {
            if v.len() > 63 {
                errs.push(format!("{id}: label {k} value longer than 63"));
            }
        }
        let template_labels = match o {
            Object::Deployment(d) => d.spec.as_ref().map(|s| {
                let l = s
                    .template
                    .metadata
                    .as_ref()
                    .and_then(|m| m.labels.clone())
                    .unwrap_or_default();
                let sel = s.selector.match_labels.clone().unwrap_or_default();
                if sel.is_empty() || !matches(&sel, &l) {
                    errs.push(format!(
                        "{id}: selector does not match the pod template's labels"
                    ));
                }
                l
            }),
            Object::DaemonSet(d) => d.spec.as_ref().map(|s| {
                let l = s
                    .template
                    .metadata
                    .as_ref()
                    .and_then(|m| m.labels.clone())
                    .unwrap_or_default();
                let sel = s.selector.match_labels.clone().unwrap_or_default();
                if sel.is_empty() || !matches(&sel, &l) {
                    errs.push(format!(
                        "{id}: selector does not match the pod template's labels"
                    ));
                }
                l
            }),
            Object::Job(j) => j.spec.as_ref().map(|s| {
                s.template
                    .metadata
                    .as_ref()
                    .and_then(|m| m.labels.clone())
                    .unwrap_or_default()
            }),
            _ => None,
        };
        if let Some(l) = template_labels {
            pod_labels.push(l);
        }
        if let Some(pod) = o.pod_spec() {
            let rp = pod.restart_policy.as_deref().unwrap_or("Always");
            let ok = match o {
                Object::Job(_) => rp == "Never" || rp == "OnFailure",
                _ => rp == "Always",
            };
            if !ok {
                errs.push(format!(
                    "{id}: restartPolicy {rp} is not allowed for a {}",
                    o.kind()
                ));
            }
            for c in pod
                .containers
                .iter()
                .chain(pod.init_containers.iter().flatten())
            {
                if !is_dns1123_label(&c.name) {
                    errs.push(format!(
                        "{id}: container name {:?} is not a DNS-1123 label",
                        c.name
                    ));
                }
                for p in c.ports.iter().flatten() {
                    if let Some(n) = &p.name {
                        if !is_port_name(n) {
                            errs.push(format!(
                                "{id}: port name {n:?} is not a valid port name (at most 15)"
                            ));
                        }
                    }
                }
            }
            for v in pod.volumes.iter().flatten() {
                if !is_dns1123_label(&v.name) {
                    errs.push(format!(
                        "{id}: volume name {:?} is not a DNS-1123 label",
                        v.name
                    ));
                }
            }
        }
    }
    for o in objects {
        let Object::Service(s) = o else { continue };
        let id = format!("Service/{}", o.name());
        let Some(spec) = &s.spec else {
            errs.push(format!("{id}: no spec"));
            continue;
        };
        let headless = spec.cluster_ip.as_deref() == Some("None");
        let ports = spec.ports.clone().unwrap_or_default();
        if ports.is_empty() && !headless {
            errs.push(format!("{id}: a Service needs at least one port"));
        }
        for p in &ports {
            if let Some(n) = &p.name {
                if !is_port_name(n) {
                    errs.push(format!(
                        "{id}: port name {n:?} is not a valid port name (at most 15)"
                    ));
                }
            }
        }
        let sel = spec.selector.clone().unwrap_or_default();
        if sel.is_empty() || !pod_labels.iter().any(|l| matches(&sel, l)) {
            errs.push(format!("{id}: selector matches no pod of the manifests"));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
    use k8s_openapi::api::core::v1::{
        Container, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    fn deployment(name: &str, restart: &str, port_name: &str) -> Object {
        let labels = BTreeMap::from([("app".to_string(), name.to_string())]);
        Object::Deployment(Deployment {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                selector: LabelSelector {
                    match_labels: Some(labels.clone()),
                    ..Default::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        restart_policy: Some(restart.into()),
                        containers: vec![Container {
                            name: "c".into(),
                            ports: Some(vec![k8s_openapi::api::core::v1::ContainerPort {
                                name: Some(port_name.into()),
                                container_port: 80,
                                ..Default::default()
                            }]),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn service(name: &str, app: &str, ports: Vec<ServicePort>) -> Object {
        Object::Service(Service {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                selector: Some(BTreeMap::from([("app".to_string(), app.to_string())])),
                ports: Some(ports),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    #[test]
    fn accepts_a_sound_pair() {
        let port = ServicePort {
            name: Some("http".into()),
            port: 80,
            ..Default::default()
        };
        check(&[
            deployment("web", "Always", "http"),
            service("web", "web", vec![port]),
        ])
        .unwrap();
    }

    #[test]
    fn catches_what_only_the_api_server_would() {
        let long = "x".repeat(16);
        let errs = check(&[
            deployment("web_service", "OnFailure", &long),
            service("web", "other", vec![]),
        ])
        .unwrap_err()
        .join("\n");
        for want in [
            "DNS-1123",
            "restartPolicy OnFailure",
            "port name",
            "at least one port",
            "matches no pod",
        ] {
            assert!(errs.contains(want), "{want} missing in {errs}");
        }
    }
}
