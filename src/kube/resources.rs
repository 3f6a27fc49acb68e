//! Resources: `deploy.resources`, `cpus`, `mem_limit`, `mem_reservation` →
//! limits and requests (compose bridge never emits them). A pids limit has no
//! per-pod field (it is the kubelet's `--pod-max-pids`): reported.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::Warnings;
use crate::compose::model::ServiceConfig;

fn cpu(cpus: f32) -> Quantity {
    Quantity(format!("{}m", (f64::from(cpus) * 1000.0).round() as i64))
}

/// Bytes as a quantity, in the largest binary unit that divides them (`256Mi`).
pub fn bytes(n: i64) -> Quantity {
    for (unit, size) in [("Gi", 1i64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if n % size == 0 {
            return Quantity(format!("{}{unit}", n / size));
        }
    }
    Quantity(n.to_string())
}

fn set(map: &mut BTreeMap<String, Quantity>, cpus: f32, memory: i64) {
    if cpus > 0.0 {
        map.insert("cpu".into(), cpu(cpus));
    }
    if memory > 0 {
        map.insert("memory".into(), bytes(memory));
    }
}

/// The container's resources.
pub fn resources(
    name: &str,
    svc: &ServiceConfig,
    w: &mut Warnings,
) -> Option<ResourceRequirements> {
    let mut limits = BTreeMap::new();
    let mut requests = BTreeMap::new();
    let res = svc.deploy.as_ref().map(|d| &d.resources);
    let lim = res.and_then(|r| r.limits.as_ref());
    let resv = res.and_then(|r| r.reservations.as_ref());
    set(
        &mut limits,
        lim.map(|l| l.cpus).filter(|c| *c > 0.0).unwrap_or(svc.cpus),
        lim.map(|l| l.memory.0)
            .filter(|m| *m > 0)
            .unwrap_or(svc.mem_limit.0),
    );
    set(
        &mut requests,
        resv.map(|l| l.cpus).unwrap_or(0.0),
        resv.map(|l| l.memory.0)
            .filter(|m| *m > 0)
            .unwrap_or(svc.mem_reservation.0),
    );
    if lim.is_some_and(|l| l.pids > 0) || svc.pids_limit > 0 {
        let key = if svc.pids_limit > 0 {
            "pids_limit"
        } else {
            "deploy.resources.limits.pids"
        };
        w.add(
            name,
            key,
            "Kubernetes has no per-pod pids limit (it is the kubelet's --pod-max-pids); left out",
        );
    }
    if resv.is_some_and(|r| !r.devices.is_empty()) || !svc.gpus.is_empty() {
        w.add(
            name,
            "deploy.resources.reservations.devices",
            "device requests need a device plugin's resource name; left out",
        );
    }
    if limits.is_empty() && requests.is_empty() {
        return None;
    }
    Some(ResourceRequirements {
        limits: (!limits.is_empty()).then_some(limits),
        requests: (!requests.is_empty()).then_some(requests),
        ..Default::default()
    })
}
