//! securityContext: `user`, `group_add`, `read_only`, `cap_add`/`cap_drop`,
//! `privileged` on the container; `sysctls` on the pod, as the list the
//! schema wants (compose bridge renders a map, which the API rejects).

use k8s_openapi::api::core::v1::{Capabilities, PodSecurityContext, SecurityContext, Sysctl};

use super::Warnings;
use crate::compose::model::ServiceConfig;

fn caps(list: &[String]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| {
        list.iter()
            .map(|c| {
                let c = c.to_ascii_uppercase();
                c.strip_prefix("CAP_").map(str::to_string).unwrap_or(c)
            })
            .collect()
    })
}

/// The container's securityContext.
pub fn container(name: &str, svc: &ServiceConfig, w: &mut Warnings) -> Option<SecurityContext> {
    let mut sc = SecurityContext::default();
    if !svc.user.is_empty() {
        let (u, g) = svc
            .user
            .split_once(':')
            .map_or((svc.user.as_str(), None), |(u, g)| (u, Some(g)));
        match (u.parse::<i64>(), g.map(str::parse::<i64>)) {
            (Ok(u), None) => sc.run_as_user = Some(u),
            (Ok(u), Some(Ok(g))) => {
                sc.run_as_user = Some(u);
                sc.run_as_group = Some(g);
            }
            _ => w.add(
                name,
                "user",
                format!("{:?}: Kubernetes takes numeric ids only (runAsUser); left out, the image's USER applies", svc.user),
            ),
        }
    }
    if svc.read_only {
        sc.read_only_root_filesystem = Some(true);
    }
    if svc.privileged {
        sc.privileged = Some(true);
    }
    if !svc.cap_add.is_empty() || !svc.cap_drop.is_empty() {
        sc.capabilities = Some(Capabilities {
            add: caps(&svc.cap_add),
            drop: caps(&svc.cap_drop),
        });
    }
    (sc != SecurityContext::default()).then_some(sc)
}

/// The pod's securityContext: sysctls and supplemental groups.
pub fn pod(name: &str, svc: &ServiceConfig, w: &mut Warnings) -> Option<PodSecurityContext> {
    let mut sc = PodSecurityContext::default();
    if !svc.sysctls.is_empty() {
        sc.sysctls = Some(
            svc.sysctls
                .iter()
                .map(|(k, v)| Sysctl {
                    name: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        );
    }
    let mut groups = Vec::new();
    for g in &svc.group_add {
        match g.parse::<i64>() {
            Ok(n) => groups.push(n),
            Err(_) => w.add(
                name,
                "group_add",
                format!("{g:?}: Kubernetes takes numeric group ids only; left out"),
            ),
        }
    }
    if !groups.is_empty() {
        sc.supplemental_groups = Some(groups);
    }
    (sc != PodSecurityContext::default()).then_some(sc)
}
