//! Services: every service reachable by name on a compose network gets a
//! ClusterIP Service with the ports it listens on (`ports`, `expose`, the
//! image's EXPOSE); published ports get a second, external Service.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{names, Ctx, Object, PublishAs, Warnings};
use crate::compose::model::ServiceConfig;

/// One port a service listens on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port {
    /// The container port.
    pub port: i32,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port's name (at most 15 characters).
    pub name: String,
}

/// Whether the service is reachable by name on a compose network.
pub fn on_compose_network(svc: &ServiceConfig) -> bool {
    svc.network_mode.is_empty() || svc.network_mode == "bridge"
}

fn protocol(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "udp" => "UDP".to_string(),
        "sctp" => "SCTP".to_string(),
        _ => "TCP".to_string(),
    }
}

/// `80`, `80/udp`, `8000-8002/tcp` → ports (ranges expanded, up to 100).
fn parse_expose(spec: &str) -> Option<Vec<(i32, String)>> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (a.parse::<i32>().ok()?, b.parse::<i32>().ok()?),
        None => {
            let p = ports.parse::<i32>().ok()?;
            (p, p)
        }
    };
    if !(1..=65535).contains(&lo) || hi < lo || hi > 65535 || hi - lo >= 100 {
        return None;
    }
    Some((lo..=hi).map(|p| (p, protocol(proto))).collect())
}

/// The ports a service listens on, deduplicated, sorted.
pub fn listening_ports(ctx: &Ctx, svc: &ServiceConfig, w: &mut Warnings) -> Vec<Port> {
    let mut found: BTreeMap<(i32, String), String> = BTreeMap::new();
    for p in &svc.ports {
        let Ok(port) = i32::try_from(p.target) else {
            continue;
        };
        if port == 0 {
            continue;
        }
        found
            .entry((port, protocol(&p.protocol)))
            .or_insert_with(|| p.name.clone());
    }
    for (i, e) in svc.expose.iter().enumerate() {
        match parse_expose(e) {
            Some(ps) => {
                for k in ps {
                    found.entry(k).or_default();
                }
            }
            None => w.add(
                &svc.name,
                &format!("expose[{i}]"),
                format!("{e:?} is not a port or a range of at most 100 ports; left out"),
            ),
        }
    }
    let image = ctx.project.image_name(svc);
    if let Some(ps) = ctx.facts.image_ports.get(&image) {
        for e in ps {
            if let Some(ps) = parse_expose(e) {
                for k in ps {
                    found.entry(k).or_default();
                }
            }
        }
    }
    found
        .into_iter()
        .map(|((port, protocol), name)| Port {
            name: names::port_name(&name, &protocol, port),
            port,
            protocol,
        })
        .collect()
}

fn service_port(p: &Port) -> ServicePort {
    ServicePort {
        name: Some(p.name.clone()),
        port: p.port,
        protocol: Some(p.protocol.clone()),
        target_port: Some(IntOrString::Int(p.port)),
        ..Default::default()
    }
}

/// The Services of one compose service.
pub fn services(ctx: &Ctx, name: &str, svc: &ServiceConfig, w: &mut Warnings) -> Vec<Object> {
    let mut out = Vec::new();
    if !on_compose_network(svc) {
        if !svc.ports.is_empty() && svc.network_mode != "host" {
            w.add(
                name,
                "ports",
                format!(
                    "network_mode {:?}: the pod has no Service, so its ports are not published",
                    svc.network_mode
                ),
            );
        }
        return out;
    }
    let kname = ctx.name(name);
    let ports = ctx.ports.get(name).cloned().unwrap_or_default();
    // Compose makes every service resolvable by name, ports or not. A headless
    // Service (no cluster IP) does the same in Kubernetes and may have no
    // ports: an internal database without `ports` stays reachable by name,
    // where kompose drops it (kubernetes/kompose#58).
    let headless = ports.is_empty();
    out.push(Object::Service(Service {
        metadata: ctx.meta(&kname),
        spec: Some(ServiceSpec {
            selector: Some(ctx.selector(name)),
            cluster_ip: headless.then(|| "None".to_string()),
            ports: (!headless).then(|| ports.iter().map(service_port).collect()),
            ..Default::default()
        }),
        ..Default::default()
    }));

    let mut published = Vec::new();
    for (i, p) in svc.ports.iter().enumerate() {
        if p.published.is_empty() {
            continue;
        }
        let key = format!("ports[{i}]");
        if matches!(p.host_ip.as_str(), "127.0.0.1" | "::1" | "localhost") {
            w.add(
                name,
                &key,
                format!(
                    "published on {} only (this host); no external Service for it: reach it with `kubectl port-forward service/{kname} {}:{}`",
                    p.host_ip, p.published, p.target
                ),
            );
            continue;
        }
        let (first, ranged) = match p.published.split_once('-') {
            Some((a, _)) => (a, true),
            None => (p.published.as_str(), false),
        };
        let Ok(host) = first.parse::<i32>() else {
            continue;
        };
        if ranged {
            w.add(
                name,
                &key,
                format!(
                    "published range {} becomes its first port {host}",
                    p.published
                ),
            );
        }
        let Ok(target) = i32::try_from(p.target) else {
            continue;
        };
        let proto = protocol(&p.protocol);
        let mut sp = ServicePort {
            name: Some(names::port_name(&p.name, &proto, host)),
            port: host,
            protocol: Some(proto),
            target_port: Some(IntOrString::Int(target)),
            ..Default::default()
        };
        if ctx.opts.publish_as == PublishAs::NodePort {
            if (30000..=32767).contains(&host) {
                sp.node_port = Some(host);
            } else {
                w.add(
                    name,
                    &key,
                    format!("published port {host} is outside the NodePort range 30000-32767; the cluster picks the node port"),
                );
            }
        }
        if !published
            .iter()
            .any(|q: &ServicePort| q.port == sp.port && q.protocol == sp.protocol)
        {
            published.push(sp);
        }
    }
    if !published.is_empty() {
        out.push(Object::Service(Service {
            metadata: ctx.meta(&names::derived(&kname, "published")),
            spec: Some(ServiceSpec {
                type_: Some(
                    match ctx.opts.publish_as {
                        PublishAs::LoadBalancer => "LoadBalancer",
                        PublishAs::NodePort => "NodePort",
                    }
                    .to_string(),
                ),
                selector: Some(ctx.selector(name)),
                ports: Some(published),
                ..Default::default()
            }),
            ..Default::default()
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose_specs() {
        assert_eq!(parse_expose("80"), Some(vec![(80, "TCP".into())]));
        assert_eq!(parse_expose("53/udp"), Some(vec![(53, "UDP".into())]));
        assert_eq!(parse_expose("8000-8001").map(|v| v.len()), Some(2));
        assert_eq!(parse_expose("1-65535"), None);
        assert_eq!(parse_expose("http"), None);
    }
}
