//! `models`: berth loads and prints them as docker compose does, but has no
//! model runner (Docker Model Runner) to serve them, so a service that needs
//! one is refused before anything is created.

use crate::compose::Project;

/// A service needs a model berth cannot serve.
#[derive(Debug, thiserror::Error)]
#[error("service {service:?} needs model {model:?}{reference}: berth has no model runner (Docker Model Runner) to serve it")]
pub struct ModelUnsupported {
    /// The service.
    pub service: String,
    /// The model's key under `models`.
    pub model: String,
    /// ` (ai/…)`, the model reference, when there is one.
    pub reference: String,
}

/// Refuses the first of `services` that needs a model.
pub fn check_models(project: &Project, services: &[String]) -> Result<(), ModelUnsupported> {
    for name in services {
        let Some(svc) = project.services.get(name) else {
            continue;
        };
        if let Some(model) = svc.models.keys().next() {
            let reference = project
                .models
                .get(model)
                .map(|m| m.model.clone())
                .filter(|m| !m.is_empty())
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            return Err(ModelUnsupported {
                service: name.clone(),
                model: model.clone(),
                reference,
            });
        }
    }
    Ok(())
}
