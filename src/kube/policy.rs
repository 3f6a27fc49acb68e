//! NetworkPolicies that allow exactly the traffic compose allows: a pod takes
//! ingress from the pods that share one of its compose networks, and, on its
//! published ports, from anywhere. A pod on no network (`network_mode: none`)
//! takes none. Egress is not restricted (compose does not either, except on
//! `internal` networks, which are reported).

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{names, Ctx, Object, Warnings};
use crate::compose::model::ServiceConfig;

/// The label that marks a pod as a member of a compose network.
pub fn network_label(ctx: &Ctx, network: &str) -> String {
    let n = ctx
        .networks
        .get(network)
        .cloned()
        .unwrap_or_else(|| names::label(network));
    format!("network.berth.dev/{n}")
}

/// The network labels of a service's pods.
pub fn network_labels(ctx: &Ctx, svc: &ServiceConfig) -> BTreeMap<String, String> {
    if !super::service::on_compose_network(svc) {
        return BTreeMap::new();
    }
    svc.networks
        .keys()
        .map(|n| (network_label(ctx, n), "true".to_string()))
        .collect()
}

/// The NetworkPolicies of the project.
pub fn policies(ctx: &Ctx, w: &mut Warnings) -> Vec<Object> {
    let mut out = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for (_, svc) in ctx.services() {
        if super::service::on_compose_network(svc) {
            used.extend(svc.networks.keys().cloned());
        }
    }
    for net in &used {
        if ctx.project.networks.get(net).is_some_and(|n| n.internal) {
            w.add(
                &format!("networks.{net}"),
                "internal",
                "egress out of the cluster is not restricted by the manifests",
            );
        }
        let sel = LabelSelector {
            match_labels: Some(BTreeMap::from([(
                network_label(ctx, net),
                "true".to_string(),
            )])),
            ..Default::default()
        };
        let pname = ctx
            .networks
            .get(net)
            .cloned()
            .unwrap_or_else(|| names::label(net));
        out.push(Object::NetworkPolicy(NetworkPolicy {
            metadata: ctx.meta(&names::derived(&pname, "network")),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(sel.clone()),
                policy_types: Some(vec!["Ingress".into()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: Some(vec![NetworkPolicyPeer {
                        pod_selector: Some(sel),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }));
    }
    for (name, svc) in ctx.services() {
        let pods = LabelSelector {
            match_labels: Some(ctx.selector(name)),
            ..Default::default()
        };
        if !super::service::on_compose_network(svc) {
            if svc.network_mode == "none" {
                out.push(Object::NetworkPolicy(NetworkPolicy {
                    metadata: ctx.meta(&names::derived(&ctx.name(name), "isolated")),
                    spec: Some(NetworkPolicySpec {
                        pod_selector: Some(pods),
                        policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                        ..Default::default()
                    }),
                }));
            }
            continue;
        }
        let ports: Vec<NetworkPolicyPort> = svc
            .ports
            .iter()
            .filter(|p| {
                !p.published.is_empty()
                    && !matches!(p.host_ip.as_str(), "127.0.0.1" | "::1" | "localhost")
            })
            .filter_map(|p| {
                Some(NetworkPolicyPort {
                    port: Some(IntOrString::Int(i32::try_from(p.target).ok()?)),
                    protocol: Some(p.protocol.to_ascii_uppercase()).filter(|s| !s.is_empty()),
                    ..Default::default()
                })
            })
            .collect();
        if ports.is_empty() {
            continue;
        }
        out.push(Object::NetworkPolicy(NetworkPolicy {
            metadata: ctx.meta(&names::derived(&ctx.name(name), "published")),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(pods),
                policy_types: Some(vec!["Ingress".into()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    ports: Some(ports),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }));
    }
    out
}
