//! A client for the OCI distribution spec: manifests, blobs, uploads, and the
//! authentication dance (bearer-token challenges, anonymous or with credentials,
//! and basic auth), with retries and plain HTTP only for local or insecure registries.

pub mod credentials;

use super::digest::Digest;
use super::oci::MANIFEST_ACCEPT;
use super::reference::{Reference, DOCKER_HUB};
use base64::Engine as _;
pub use credentials::Credentials;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Largest manifest accepted (the spec suggests registries cap at 4 MiB).
const MAX_MANIFEST: u64 = 4 << 20;

/// Errors talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The connection failed (DNS, TCP, TLS, timeouts), after retries.
    #[error("{url}: {message}")]
    Transport {
        /// What was requested.
        url: String,
        /// Why it failed.
        message: String,
    },
    /// The registry answered with an error status.
    #[error("{url}: {status} {body}")]
    Status {
        /// What was requested.
        url: String,
        /// HTTP status.
        status: u16,
        /// The registry's error text.
        body: String,
    },
    /// Authentication failed or was refused.
    #[error("{registry}: unauthorized: {message}")]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// Why.
        message: String,
    },
    /// The manifest or blob asked for does not exist.
    #[error("{0}: not found")]
    NotFound(String),
    /// Content did not match its digest.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was fetched.
        what: String,
        /// The digest asked for.
        expected: Digest,
        /// What arrived.
        actual: Digest,
    },
    /// Reading a response body failed.
    #[error("reading {url}: {source}")]
    Body {
        /// What was requested.
        url: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A manifest was larger than any sane manifest.
    #[error("{0}: manifest too large")]
    TooLarge(String),
    /// A registry's CA certificate could not be used.
    #[error("CA certificates for {registry}: {message}")]
    Tls {
        /// Registry host.
        registry: String,
        /// Why.
        message: String,
    },
}

/// Result alias for registry calls.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Registry hosts (with port) to reach over plain HTTP; localhost and loopback always are.
    /// Also read from `BERTH_INSECURE_REGISTRIES` (comma separated).
    pub insecure: Vec<String>,
    /// Credentials given explicitly, by registry host; they win over the docker config.
    pub credentials: HashMap<String, Credentials>,
    /// The docker config file to read credentials from (default `~/.docker/config.json`).
    pub docker_config: Option<PathBuf>,
    /// Attempts per request for transient failures (connection errors, 5xx, 429).
    pub attempts: Option<u32>,
    /// Directories holding `<host[:port]>/*.crt` CA certificates trusted for that
    /// registry only, as docker's `certs.d` (default `/etc/berth/certs.d` and
    /// `/etc/docker/certs.d`). A registry with such a directory is always reached over HTTPS.
    pub certs_dirs: Option<Vec<PathBuf>>,
}

/// A fetched manifest or index.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The exact bytes (what the digest covers).
    pub bytes: Vec<u8>,
    /// Their digest.
    pub digest: Digest,
    /// The Content-Type the registry sent.
    pub content_type: Option<String>,
}

/// What a request sends.
#[derive(Clone, Copy)]
enum Body<'a> {
    Empty,
    Bytes(&'a [u8], &'a str),
    File(&'a std::path::Path, u64),
}

/// A registry client; cheap to share between threads.
pub struct Client {
    agent: ureq::Agent,
    /// Agents trusting a registry's own CAs (certs.d), by host.
    host_agents: Mutex<HashMap<String, ureq::Agent>>,
    opts: RegistryOptions,
    /// Authorization header values by (registry, scope).
    auth_cache: Mutex<HashMap<(String, String), String>>,
    creds_cache: Mutex<HashMap<String, Option<Credentials>>>,
}

fn is_local(host: &str) -> bool {
    let h = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    h == "localhost" || h == "::1" || h.starts_with("127.") || h.ends_with(".localhost")
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq)]
struct Challenge {
    scheme: String,
    params: HashMap<String, String>,
}

fn parse_challenge(h: &str) -> Option<Challenge> {
    let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    let mut params = HashMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (k, after) = s.split_once('=')?;
        let after = after.trim_start();
        let (v, remaining) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(k.trim().to_ascii_lowercase(), v.to_string());
        s = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// A client with the given options.
    pub fn new(mut opts: RegistryOptions) -> Self {
        if let Ok(list) = std::env::var("BERTH_INSECURE_REGISTRIES") {
            opts.insecure.extend(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
        }
        Client {
            agent: Self::agent_builder().build(),
            host_agents: Mutex::default(),
            opts,
            auth_cache: Mutex::default(),
            creds_cache: Mutex::default(),
        }
    }

    fn agent_builder() -> ureq::AgentBuilder {
        // Rootless: a registry is reached through the namespace's way out.
        crate::rootless::need_way_out(&[]);
        ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(60))
            .timeout_write(Duration::from_secs(60))
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
    }

    fn certs_dirs(&self) -> Vec<PathBuf> {
        self.opts.certs_dirs.clone().unwrap_or_else(|| {
            vec![
                PathBuf::from("/etc/berth/certs.d"),
                PathBuf::from("/etc/docker/certs.d"),
            ]
        })
    }

    /// The CA files configured for a registry host.
    fn host_cas(&self, host: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for d in self.certs_dirs() {
            if let Ok(rd) = std::fs::read_dir(d.join(host)) {
                for e in rd.flatten() {
                    if e.path().extension().is_some_and(|x| x == "crt") {
                        out.push(e.path());
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// The agent for a URL: one trusting the system roots plus the host's own CAs when
    /// it has a certs.d directory, the shared one otherwise.
    fn agent_for(&self, url: &str) -> Result<ureq::Agent> {
        let host = url
            .split("://")
            .nth(1)
            .unwrap_or(url)
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let mut agents = self.host_agents.lock().expect("agents");
        if let Some(a) = agents.get(&host) {
            return Ok(a.clone());
        }
        let cas = self.host_cas(&host);
        if cas.is_empty() {
            return Ok(self.agent.clone());
        }
        let tls_err = |message: String| RegistryError::Tls {
            registry: host.clone(),
            message,
        };
        let mut roots = rustls::RootCertStore::empty();
        // Invalid system certificates are skipped, as every TLS client does.
        for c in rustls_native_certs::load_native_certs().unwrap_or_default() {
            let _ = roots.add(c);
        }
        for path in &cas {
            let pem =
                std::fs::read(path).map_err(|e| tls_err(format!("{}: {e}", path.display())))?;
            for cert in rustls_pemfile::certs(&mut &pem[..]) {
                let cert = cert.map_err(|e| tls_err(format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| tls_err(format!("{}: {e}", path.display())))?;
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let agent = Self::agent_builder()
            .tls_config(std::sync::Arc::new(config))
            .build();
        agents.insert(host, agent.clone());
        Ok(agent)
    }

    /// How many times a transient failure is tried (also used for whole layer downloads).
    pub fn attempts(&self) -> u32 {
        self.opts.attempts.unwrap_or(4).max(1)
    }

    /// `https://host/v2/` (or `http://` for local and insecure registries).
    pub fn base_url(&self, registry: &str) -> String {
        let host = if registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            registry
        };
        let insecure = is_local(registry) || self.opts.insecure.iter().any(|i| i == registry);
        // A registry with its own CA configured is meant to be reached over TLS, loopback or not.
        let scheme = if insecure && self.host_cas(host).is_empty() {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{host}/v2/")
    }

    fn credentials(&self, registry: &str) -> Option<Credentials> {
        if let Some(c) = self.opts.credentials.get(registry) {
            return Some(c.clone());
        }
        let mut cache = self.creds_cache.lock().expect("creds cache");
        cache
            .entry(registry.to_string())
            .or_insert_with(|| credentials::lookup(self.opts.docker_config.as_deref(), registry))
            .clone()
    }

    fn basic_header(c: &Credentials) -> String {
        let raw = format!("{}:{}", c.username, c.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// Answers a challenge: a Basic header from credentials, or a bearer token from the realm.
    fn authorize(&self, registry: &str, scope: &str, challenge: &str) -> Result<String> {
        let unauthorized = |message: String| RegistryError::Unauthorized {
            registry: registry.to_string(),
            message,
        };
        let ch = parse_challenge(challenge)
            .ok_or_else(|| unauthorized(format!("unparsable challenge {challenge:?}")))?;
        let creds = self.credentials(registry);
        match ch.scheme.as_str() {
            "basic" => creds.map(|c| Self::basic_header(&c)).ok_or_else(|| {
                unauthorized("credentials required (none in the docker config)".into())
            }),
            "bearer" => {
                let realm = ch
                    .params
                    .get("realm")
                    .ok_or_else(|| unauthorized("bearer challenge without realm".into()))?;
                let mut url = realm.clone();
                url.push(if url.contains('?') { '&' } else { '?' });
                if let Some(service) = ch.params.get("service") {
                    url.push_str(&format!("service={}&", url_encode(service)));
                }
                // Ask for what the registry says it needs (a cross-repository mount needs
                // pull on the source too) plus what this request is for; one `scope`
                // parameter each, as Docker Hub's token server wants them.
                let mut scopes: Vec<&str> = vec![scope];
                if let Some(wanted) = ch.params.get("scope") {
                    scopes.extend(wanted.split(' ').filter(|s| !s.is_empty()));
                }
                scopes.dedup();
                let mut seen = std::collections::HashSet::new();
                let q: Vec<String> = scopes
                    .into_iter()
                    .filter(|s| seen.insert(*s))
                    .map(|s| format!("scope={}", url_encode(s)))
                    .collect();
                url.push_str(&q.join("&"));
                let mut req = self.agent_for(&url)?.get(&url);
                if let Some(c) = &creds {
                    req = req.set("Authorization", &Self::basic_header(c));
                }
                let resp = match req.call() {
                    Ok(r) => r,
                    Err(ureq::Error::Status(code, r)) => {
                        return Err(unauthorized(format!(
                            "token server said {code}: {}",
                            r.into_string().unwrap_or_default()
                        )))
                    }
                    Err(e) => {
                        return Err(RegistryError::Transport {
                            url,
                            message: e.to_string(),
                        })
                    }
                };
                #[derive(serde::Deserialize)]
                struct Token {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let text = resp
                    .into_string()
                    .map_err(|e| unauthorized(format!("bad token response: {e}")))?;
                let t: Token = serde_json::from_str(&text)
                    .map_err(|e| unauthorized(format!("bad token response: {e}")))?;
                let tok = t
                    .token
                    .or(t.access_token)
                    .ok_or_else(|| unauthorized("token response without token".into()))?;
                Ok(format!("Bearer {tok}"))
            }
            other => Err(unauthorized(format!("unsupported auth scheme {other:?}"))),
        }
    }

    /// Sends one request with auth and retries. `scope` is the bearer scope it needs.
    fn send(
        &self,
        method: &str,
        url: &str,
        registry: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<ureq::Response> {
        let key = (registry.to_string(), scope.to_string());
        let attempts = self.attempts();
        let mut auth_tried = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self.agent_for(url)?.request(method, url);
            for (k, v) in headers {
                req = req.set(k, v);
            }
            if let Some(a) = self.auth_cache.lock().expect("auth cache").get(&key) {
                req = req.set("Authorization", a);
            }
            let res = match body {
                Body::Empty => req.call(),
                Body::Bytes(b, ct) => req.set("Content-Type", ct).send_bytes(b),
                Body::File(path, len) => match std::fs::File::open(path) {
                    Ok(f) => req
                        .set("Content-Type", "application/octet-stream")
                        .set("Content-Length", &len.to_string())
                        .send(std::io::BufReader::with_capacity(256 * 1024, f)),
                    Err(e) => {
                        return Err(RegistryError::Body {
                            url: url.to_string(),
                            source: e,
                        })
                    }
                },
            };
            let retryable = match res {
                Ok(r) => return Ok(r),
                Err(ureq::Error::Status(401, r)) if !auth_tried => {
                    auth_tried = true;
                    let challenge = r.header("WWW-Authenticate").unwrap_or("").to_string();
                    let header = self.authorize(registry, scope, &challenge)?;
                    self.auth_cache
                        .lock()
                        .expect("auth cache")
                        .insert(key.clone(), header);
                    continue;
                }
                Err(ureq::Error::Status(code, r)) if code == 401 || code == 403 => {
                    return Err(RegistryError::Unauthorized {
                        registry: registry.to_string(),
                        message: r.into_string().unwrap_or_default().trim().to_string(),
                    })
                }
                Err(ureq::Error::Status(404, _)) => {
                    return Err(RegistryError::NotFound(url.to_string()))
                }
                Err(ureq::Error::Status(code, r)) if code == 429 || code >= 500 => {
                    RegistryError::Status {
                        url: url.to_string(),
                        status: code,
                        body: r.into_string().unwrap_or_default(),
                    }
                }
                Err(ureq::Error::Status(code, r)) => {
                    return Err(RegistryError::Status {
                        url: url.to_string(),
                        status: code,
                        body: r.into_string().unwrap_or_default().trim().to_string(),
                    })
                }
                Err(e) => {
                    // ureq already starts its message with the URL, which this
                    // error prints itself.
                    let text = e.to_string();
                    let message = match text.strip_prefix(&format!("{url}: ")) {
                        Some(rest) => rest.to_string(),
                        None => text,
                    };
                    RegistryError::Transport {
                        url: url.to_string(),
                        message,
                    }
                }
            };
            if attempt >= attempts {
                return Err(retryable);
            }
            let delay = Duration::from_millis(200 << (attempt - 1));
            tracing::debug!("{method} {url}: {retryable}; retrying in {delay:?}");
            std::thread::sleep(delay);
        }
    }

    fn pull_scope(r: &Reference) -> String {
        format!("repository:{}:pull", r.repository)
    }

    fn push_scope(r: &Reference) -> String {
        format!("repository:{}:pull,push", r.repository)
    }

    /// Fetches a manifest or index by tag or digest, verifying the digest when pinned
    /// (and against `Docker-Content-Digest` otherwise).
    pub fn get_manifest(&self, r: &Reference, locator: &str) -> Result<FetchedManifest> {
        let url = format!(
            "{}{}/manifests/{}",
            self.base_url(&r.registry),
            r.repository,
            locator
        );
        let resp = self.send(
            "GET",
            &url,
            &r.registry,
            &Self::pull_scope(r),
            &[("Accept", MANIFEST_ACCEPT)],
            Body::Empty,
        )?;
        let content_type = resp.header("Content-Type").map(String::from);
        let header_digest = resp
            .header("Docker-Content-Digest")
            .and_then(|d| d.parse::<Digest>().ok());
        let mut bytes = Vec::new();
        resp.into_reader()
            .take(MAX_MANIFEST + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| RegistryError::Body {
                url: url.clone(),
                source,
            })?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(RegistryError::TooLarge(url));
        }
        let digest = Digest::of(&bytes);
        let expected = locator.parse::<Digest>().ok().or(header_digest);
        if let Some(exp) = expected {
            if exp != digest {
                return Err(RegistryError::DigestMismatch {
                    what: url,
                    expected: exp,
                    actual: digest,
                });
            }
        }
        Ok(FetchedManifest {
            bytes,
            digest,
            content_type,
        })
    }

    /// The digest a tag currently points at (HEAD), without downloading the manifest.
    pub fn head_manifest(&self, r: &Reference, locator: &str) -> Result<Option<Digest>> {
        let url = format!(
            "{}{}/manifests/{}",
            self.base_url(&r.registry),
            r.repository,
            locator
        );
        let resp = self.send(
            "HEAD",
            &url,
            &r.registry,
            &Self::pull_scope(r),
            &[("Accept", MANIFEST_ACCEPT)],
            Body::Empty,
        )?;
        Ok(resp
            .header("Docker-Content-Digest")
            .and_then(|d| d.parse().ok()))
    }

    /// Opens a blob for streaming; the caller verifies digest and size as it reads.
    pub fn get_blob(&self, r: &Reference, digest: &Digest) -> Result<Box<dyn Read + Send>> {
        let url = format!(
            "{}{}/blobs/{}",
            self.base_url(&r.registry),
            r.repository,
            digest
        );
        let resp = self.send(
            "GET",
            &url,
            &r.registry,
            &Self::pull_scope(r),
            &[],
            Body::Empty,
        )?;
        Ok(Box::new(resp.into_reader()))
    }

    /// Whether the repository already has a blob.
    pub fn blob_exists(&self, r: &Reference, digest: &Digest) -> Result<bool> {
        let url = format!(
            "{}{}/blobs/{}",
            self.base_url(&r.registry),
            r.repository,
            digest
        );
        match self.send(
            "HEAD",
            &url,
            &r.registry,
            &Self::push_scope(r),
            &[],
            Body::Empty,
        ) {
            Ok(_) => Ok(true),
            Err(RegistryError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn resolve_location(&self, r: &Reference, loc: &str) -> String {
        if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_string()
        } else {
            let base = self.base_url(&r.registry);
            let origin = base.trim_end_matches("/v2/");
            format!("{origin}{loc}")
        }
    }

    /// Uploads a blob from a file (monolithic PUT), first trying a cross-repository
    /// mount from `mount_from` on the same registry. Returns false when it was already there.
    pub fn push_blob(
        &self,
        r: &Reference,
        digest: &Digest,
        path: &std::path::Path,
        size: u64,
        mount_from: Option<&str>,
    ) -> Result<bool> {
        self.upload(r, digest, mount_from, Body::File(path, size))
    }

    /// Uploads a small blob held in memory (an artifact's layer or config), unless
    /// the repository has it already. Returns false when it was already there.
    pub fn push_blob_bytes(&self, r: &Reference, digest: &Digest, bytes: &[u8]) -> Result<bool> {
        self.upload(
            r,
            digest,
            None,
            Body::Bytes(bytes, "application/octet-stream"),
        )
    }

    /// The blob upload both share: skipped when present, a mount tried first when
    /// `mount_from` names another repository (201: mounted), else POST then PUT `body`.
    fn upload(
        &self,
        r: &Reference,
        digest: &Digest,
        mount_from: Option<&str>,
        body: Body,
    ) -> Result<bool> {
        if self.blob_exists(r, digest)? {
            return Ok(false);
        }
        let base = self.base_url(&r.registry);
        let mut url = format!("{base}{}/blobs/uploads/", r.repository);
        if let Some(from) = mount_from.filter(|f| *f != r.repository) {
            url.push_str(&format!(
                "?mount={}&from={}",
                url_encode(&digest.to_string()),
                url_encode(from)
            ));
        }
        let resp = self.send(
            "POST",
            &url,
            &r.registry,
            &Self::push_scope(r),
            &[],
            Body::Bytes(&[], "application/octet-stream"),
        )?;
        if resp.status() == 201 {
            return Ok(false);
        }
        let loc = resp
            .header("Location")
            .ok_or_else(|| RegistryError::Status {
                url: url.clone(),
                status: resp.status(),
                body: "upload started without a Location".into(),
            })?;
        let mut put = self.resolve_location(r, loc);
        put.push(if put.contains('?') { '&' } else { '?' });
        put.push_str(&format!("digest={}", url_encode(&digest.to_string())));
        self.send("PUT", &put, &r.registry, &Self::push_scope(r), &[], body)?;
        Ok(true)
    }

    /// Uploads a manifest under a tag or digest; returns the digest the registry reports.
    pub fn put_manifest(
        &self,
        r: &Reference,
        locator: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest> {
        let url = format!(
            "{}{}/manifests/{}",
            self.base_url(&r.registry),
            r.repository,
            locator
        );
        let resp = self.send(
            "PUT",
            &url,
            &r.registry,
            &Self::push_scope(r),
            &[],
            Body::Bytes(bytes, media_type),
        )?;
        Ok(resp
            .header("Docker-Content-Digest")
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| Digest::of(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let c = parse_challenge(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#).unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["scope"], "repository:library/nginx:pull");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
    }

    #[test]
    fn plain_http_only_for_local_or_insecure() {
        let c = Client::new(RegistryOptions {
            insecure: vec!["reg.lan:5000".into()],
            ..Default::default()
        });
        assert_eq!(c.base_url("docker.io"), "https://registry-1.docker.io/v2/");
        assert_eq!(c.base_url("127.0.0.1:5000"), "http://127.0.0.1:5000/v2/");
        assert_eq!(c.base_url("localhost:5000"), "http://localhost:5000/v2/");
        assert_eq!(c.base_url("reg.lan:5000"), "http://reg.lan:5000/v2/");
        assert_eq!(c.base_url("ghcr.io"), "https://ghcr.io/v2/");
    }
}
