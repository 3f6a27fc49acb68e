//! A service as `up` wants it, from the compose project: the plan's input.

use crate::compose::model::ServiceConfig;
use crate::compose::Project;

use super::Desired;

impl Desired {
    /// `svc` of `project` with `replicas` containers, its config hash and the
    /// image it resolves to now; `shares_with` are the services whose namespaces
    /// or volumes it uses.
    pub fn of_service(
        project: &Project,
        svc: &ServiceConfig,
        replicas: u32,
        config_hash: String,
        image_id: String,
        shares_with: Vec<String>,
    ) -> Desired {
        Desired {
            name: svc.name.clone(),
            replicas,
            config_hash,
            config: serde_json::to_value(svc).unwrap_or_default(),
            image_id: Some(image_id),
            shares_with,
            depends_on: svc.depends_on.keys().cloned().collect(),
            restart_with: svc
                .depends_on
                .iter()
                .filter(|(_, d)| d.restart)
                .map(|(k, _)| k.clone())
                .collect(),
            volumes: svc
                .volumes
                .iter()
                .filter(|v| v.kind == "volume" && !v.source.is_empty())
                .filter_map(|v| {
                    let cfg = project.volumes.get(&v.source)?;
                    Some(if cfg.name.is_empty() {
                        format!("{}_{}", project.name, v.source)
                    } else {
                        cfg.name.clone()
                    })
                })
                .collect(),
        }
    }
}
