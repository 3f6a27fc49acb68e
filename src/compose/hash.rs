//! The per-service config hash, as docker compose `pkg/compose/hash.go`
//! computes it: sha256 over Go's JSON of the service without the fields that
//! must not cause a recreate.

use sha2::{Digest, Sha256};

use crate::compose::model::ser::with_json_mode;
use crate::compose::model::ServiceConfig;
use crate::compose::output::go_json_escape;

/// The hex sha256 docker compose stores in `com.docker.compose.config-hash`.
pub fn service_hash(service: &ServiceConfig) -> String {
    let mut s = service.clone();
    s.build = None;
    s.pull_policy.clear();
    s.scale = None;
    if let Some(d) = s.deploy.as_mut() {
        d.replicas = None;
    }
    s.depends_on.clear();
    s.profiles.clear();
    let json = with_json_mode(|| serde_json::to_string(&s)).unwrap_or_default();
    let digest = Sha256::digest(go_json_escape(&json).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::ServiceNetworkConfig;

    fn web() -> ServiceConfig {
        let mut s = ServiceConfig {
            name: "web".into(),
            image: "nginx:1.27".into(),
            ..Default::default()
        };
        s.networks
            .insert("default".into(), None::<ServiceNetworkConfig>);
        s
    }

    #[test]
    fn json_input_is_go_shaped() {
        let s = web();
        let json = with_json_mode(|| serde_json::to_string(&s)).unwrap();
        assert_eq!(
            json,
            r#"{"command":null,"entrypoint":null,"image":"nginx:1.27","networks":{"default":null}}"#
        );
    }

    // Pinned: a change here means every berth user's containers get recreated.
    #[test]
    fn pinned_values() {
        assert_eq!(
            service_hash(&web()),
            "35cb49ef2b427e33199ec130fd4fa2219dfb5858c58ba793400d99b97e093e4c"
        );
    }

    #[test]
    fn ignores_build_scale_depends_on_profiles() {
        let base = service_hash(&web());
        let mut s = web();
        s.scale = Some(3);
        s.profiles = vec!["debug".into()];
        s.pull_policy = "always".into();
        s.build = Some(Default::default());
        assert_eq!(service_hash(&s), base);
        s.environment.insert("A".into(), Some("1".into()));
        assert_ne!(service_hash(&s), base);
    }
}
