//! Registry credentials from `~/.docker/config.json`, as docker reads them:
//! `auths` entries, and `credHelpers` / `credsStore` helper programs
//! (`docker-credential-<name> get`, server address on stdin, JSON on stdout).

use base64::Engine as _;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A username and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({:?}, ****)", self.username)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The server address docker uses as the key for a registry host.
pub fn server_address(registry: &str) -> String {
    if registry == super::super::reference::DOCKER_HUB {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.to_string()
    }
}

/// `https://host/v1/` and `host` name the same registry in `auths`.
fn normalize(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = k.split('/').next().unwrap_or(k);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    }
}

/// Where docker keeps its config: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// Looks up credentials for a registry host in a docker config file; `None` means anonymous.
pub fn lookup(config_path: Option<&std::path::Path>, registry: &str) -> Option<Credentials> {
    let path = config_path.map(PathBuf::from).or_else(docker_config_path)?;
    let bytes = std::fs::read(&path).ok()?;
    let cfg: DockerConfig = match serde_json::from_slice(&bytes) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("ignoring {}: {e}", path.display());
            return None;
        }
    };
    let want = normalize(registry);
    if let Some((_, helper)) = cfg.cred_helpers.iter().find(|(k, _)| normalize(k) == want) {
        return run_helper(helper, &server_address(registry));
    }
    if let Some(store) = &cfg.creds_store {
        if let Some(c) = run_helper(store, &server_address(registry)) {
            return Some(c);
        }
    }
    let entry = cfg
        .auths
        .iter()
        .find(|(k, _)| normalize(k) == want)
        .map(|(_, v)| v)?;
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        });
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry.auth.as_deref()?.trim())
        .ok()?;
    let s = String::from_utf8(decoded).ok()?;
    let (u, p) = s.split_once(':')?;
    Some(Credentials {
        username: u.to_string(),
        password: p.to_string(),
    })
}

/// Runs `docker-credential-<helper> get` as docker does.
fn run_helper(helper: &str, server: &str) -> Option<Credentials> {
    run_helper_program(&format!("docker-credential-{helper}"), server)
}

fn run_helper_program(prog: &str, server: &str) -> Option<Credentials> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Out {
        username: String,
        secret: String,
    }
    let mut child = Command::new(prog)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| tracing::warn!("cannot run {prog}: {e}"))
        .ok()?;
    child.stdin.take()?.write_all(server.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        // "credentials not found in native keychain" is the normal anonymous case.
        tracing::debug!(
            "{prog} get {server}: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
        return None;
    }
    let o: Out = serde_json::from_slice(&out.stdout).ok()?;
    // "<token>" marks an identity token, which needs an OAuth flow berth does not do.
    if o.username == "<token>" {
        return None;
    }
    Some(Credentials {
        username: o.username,
        password: o.secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_auths_and_helpers() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            &cfg,
            format!(r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"127.0.0.1:5000":{{"username":"bob","password":"pw"}}}},"credHelpers":{{"helped.example":"berthtest"}}}}"#),
        )
        .unwrap();
        let c = lookup(Some(&cfg), "docker.io").unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("alice", "s3cret")
        );
        assert_eq!(
            lookup(Some(&cfg), "127.0.0.1:5000").unwrap().username,
            "bob"
        );
        assert!(lookup(Some(&cfg), "ghcr.io").is_none());
        // A helper that is not installed means anonymous, not an error.
        assert!(lookup(Some(&cfg), "helped.example").is_none());
    }

    #[test]
    fn speaks_the_credential_helper_protocol() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-fake");
        std::fs::write(
            &helper,
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n[ \"$server\" = https://index.docker.io/v1/ ] || { echo 'credentials not found'; exit 1; }\necho '{\"ServerURL\":\"x\",\"Username\":\"hub\",\"Secret\":\"tok\"}'\n",
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let prog = helper.to_str().unwrap();
        let c = run_helper_program(prog, &server_address("docker.io")).unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("hub", "tok"));
        assert!(run_helper_program(prog, "ghcr.io").is_none());
    }
}
