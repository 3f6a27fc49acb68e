//! Profiles: which services are enabled, and services enabled explicitly by
//! naming them (with their dependencies).

use std::collections::BTreeSet;

use crate::compose::model::{Project, ServiceConfig};
use crate::compose::ModelError;

/// True when the service has no profile or one of them is active (`*` = all).
pub fn has_profile(service: &ServiceConfig, active: &[String]) -> bool {
    service.profiles.is_empty()
        || active.iter().any(|p| p == "*")
        || service.profiles.iter().any(|p| active.contains(p))
}

/// Moves services whose profiles are all inactive to `disabled_services`.
pub fn apply_profiles(project: &mut Project, active: &[String]) {
    let all: Vec<String> = project.services.keys().cloned().collect();
    for name in all {
        if !has_profile(&project.services[&name], active) {
            if let Some(s) = project.services.remove(&name) {
                project.disabled_services.insert(name, s);
            }
        }
    }
    project.profiles = active.to_vec();
}

/// Restricts the project to the named services and their dependencies,
/// enabling profile-gated ones that are named or needed.
pub fn select_services(project: &mut Project, names: &[String]) -> Result<(), ModelError> {
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<String> = names.to_vec();
    while let Some(name) = stack.pop() {
        if !wanted.insert(name.clone()) {
            continue;
        }
        let service = project
            .services
            .get(&name)
            .or_else(|| project.disabled_services.get(&name));
        match service {
            Some(s) => {
                // An optional dependency comes along only when it is enabled already:
                // naming a service activates its own profiles, not those of what it
                // merely may use (docker compose's TestComposeRunNotRequiredDeps).
                for (dep, cfg) in &s.depends_on {
                    if cfg.required || project.services.contains_key(dep) {
                        stack.push(dep.clone());
                    }
                }
                // A build's `service:` context is a dependency too (compose-go's
                // GetDependencies): building the service builds that one first.
                if let Some(b) = &s.build {
                    for c in b.additional_contexts.values() {
                        if let Some(dep) = c.strip_prefix("service:") {
                            stack.push(dep.to_string());
                        }
                    }
                }
            }
            None => return Err(ModelError::NoSuchService(name)),
        }
    }
    let mut all = std::mem::take(&mut project.services);
    all.append(&mut project.disabled_services);
    for (name, mut s) in all {
        if wanted.contains(&name) {
            // Dependencies outside the selection (optional, missing) are dropped.
            s.depends_on.retain(|dep, _| wanted.contains(dep));
            project.services.insert(name, s);
        } else {
            project.disabled_services.insert(name, s);
        }
    }
    Ok(())
}
