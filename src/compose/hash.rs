//! The per-service config hash, as docker compose `pkg/compose/hash.go`
//! computes it: sha256 over Go's JSON of the service without the fields that
//! must not cause a recreate.

use sha2::{Digest, Sha256};

use crate::compose::model::ser::with_json_mode;
use crate::compose::model::{NetworkConfig, ServiceConfig, VolumeConfig};
use crate::compose::output::go_json_escape;

fn sha256_of_go_json<T: serde::Serialize>(v: &T) -> String {
    let json = with_json_mode(|| serde_json::to_string(v)).unwrap_or_default();
    let digest = Sha256::digest(go_json_escape(&json).as_bytes());
    crate::image::digest::to_hex(&digest)
}

/// A network's `com.docker.compose.config-hash` (docker compose `NetworkHash`).
pub fn network_hash(network: &NetworkConfig) -> String {
    sha256_of_go_json(network)
}

/// A volume's `com.docker.compose.config-hash` (docker compose `VolumeHash`:
/// an empty driver counts as `local`).
pub fn volume_hash(volume: &VolumeConfig) -> String {
    let mut v = volume.clone();
    if v.driver.is_empty() {
        v.driver = "local".into();
    }
    sha256_of_go_json(&v)
}

/// The hex sha256 docker compose stores in `com.docker.compose.config-hash`.
pub fn service_hash(service: &ServiceConfig) -> String {
    service_hash_in_place(&mut service.clone())
}

/// [`service_hash`] without a copy of the service (every `up` hashes every
/// service): what the hash leaves out is taken out for the hashing and put back.
pub fn service_hash_in_place(s: &mut ServiceConfig) -> String {
    let build = s.build.take();
    let pull_policy = std::mem::take(&mut s.pull_policy);
    let scale = s.scale.take();
    let replicas = s.deploy.as_mut().and_then(|d| d.replicas.take());
    let depends_on = std::mem::take(&mut s.depends_on);
    let profiles = std::mem::take(&mut s.profiles);
    let hash = sha256_of_go_json(&*s);
    s.build = build;
    s.pull_policy = pull_policy;
    s.scale = scale;
    if let Some(d) = s.deploy.as_mut() {
        d.replicas = replicas;
    }
    s.depends_on = depends_on;
    s.profiles = profiles;
    hash
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
            .insert("default".into(), None::<Box<ServiceNetworkConfig>>);
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

    #[test]
    fn hashing_in_place_leaves_the_service_whole() {
        let mut s = web();
        s.pull_policy = "always".into();
        s.scale = Some(2);
        s.profiles = vec!["debug".into()];
        let before = s.clone();
        assert_eq!(service_hash_in_place(&mut s), service_hash(&before));
        assert_eq!(s, before);
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
    fn network_and_volume_hashes() {
        let net = NetworkConfig {
            name: "p_default".into(),
            ..Default::default()
        };
        let json = with_json_mode(|| serde_json::to_string(&net)).unwrap();
        assert_eq!(json, r#"{"name":"p_default","ipam":{}}"#);
        // sha256 of the JSON above, and of {"name":"p_data","driver":"local"}
        assert_eq!(
            network_hash(&net),
            "cca2b3a66c94bd18c278d0ace2145197839f42c28f96dcd3878eeb5d03f53510"
        );
        let vol = VolumeConfig {
            name: "p_data".into(),
            ..Default::default()
        };
        assert_eq!(
            volume_hash(&vol),
            "bf2094b43d065b5f7aad7544497a3ed48d6551b83c79e6c2d0827b7337fcdd4b"
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
