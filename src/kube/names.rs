//! Kubernetes names: compose names rewritten to what the API server accepts.
//!
//! Object names of Deployments, Services and the rest are DNS-1123 labels
//! (Services: DNS-1035, i.e. starting with a letter), at most 63 characters;
//! port names are IANA service names, at most 15. Compose allows `_`, `.` and
//! upper case, so `web_app` and `web-app` can meet on one name: that is an
//! error naming both, never a silent overwrite.

use std::collections::BTreeMap;

use super::KubeError;

/// The longest object name or label value Kubernetes accepts.
pub const MAX_NAME: usize = 63;
/// The longest port name (IANA_SVC_NAME).
pub const MAX_PORT_NAME: usize = 15;

/// `name` as a DNS-1035 label: lower case, `[a-z0-9-]`, starting with a
/// letter, ending with a letter or digit, at most 63 characters.
pub fn label(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let mut out = out.trim_matches('-').to_string();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert_str(0, "x-");
    }
    out.truncate(MAX_NAME);
    out.trim_end_matches('-').to_string()
}

/// `base-suffix`, shortening `base` so the whole stays within 63 characters.
pub fn derived(base: &str, suffix: &str) -> String {
    let room = MAX_NAME.saturating_sub(suffix.len() + 1);
    let mut b = base.to_string();
    b.truncate(room);
    format!("{}-{suffix}", b.trim_end_matches('-'))
}

/// Whether `s` is a DNS-1123 label (what `check` holds every object name to).
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether `s` is a valid port name (IANA_SVC_NAME): at most 15 characters of
/// `[a-z0-9-]`, at least one letter, no leading, trailing or double `-`.
pub fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_PORT_NAME
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// A port's name: the compose `name` when it is a valid port name, else
/// `<protocol>-<port>` (`tcp-8080`), which always is.
pub fn port_name(compose_name: &str, protocol: &str, port: i32) -> String {
    let n = compose_name.to_ascii_lowercase();
    if is_port_name(&n) {
        n
    } else {
        format!("{}-{port}", protocol.to_ascii_lowercase())
    }
}

/// A key of a ConfigMap or Secret: `[-._a-zA-Z0-9]+`.
pub fn data_key(name: &str) -> String {
    let k: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if k.is_empty() || k == "." || k == ".." {
        format!("x{k}")
    } else {
        k
    }
}

/// Maps every compose name of one kind (services, volumes, secrets…) to its
/// Kubernetes name, failing when two compose names meet on one.
pub fn assign<'a>(
    what: &str,
    names: impl IntoIterator<Item = &'a String>,
) -> Result<BTreeMap<String, String>, KubeError> {
    let mut out = BTreeMap::new();
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for n in names {
        let k = label(n);
        if let Some(other) = taken.get(&k) {
            return Err(KubeError::NameCollision {
                what: what.to_string(),
                first: other.clone(),
                second: n.clone(),
                name: k,
            });
        }
        taken.insert(k.clone(), n.clone());
        out.insert(n.clone(), k);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_to_dns_labels() {
        assert_eq!(label("web_app"), "web-app");
        assert_eq!(label("Web.App"), "web-app");
        assert_eq!(label("1db"), "x-1db");
        assert_eq!(label("__a__"), "a");
        let long = "a".repeat(80);
        assert_eq!(label(&long).len(), 63);
        assert!(is_dns1123_label(&label("-x_Y.z-")));
    }

    #[test]
    fn derived_names_stay_short() {
        let base = label(&"b".repeat(70));
        let d = derived(&base, "published");
        assert!(d.len() <= MAX_NAME && d.ends_with("-published"), "{d}");
    }

    #[test]
    fn port_names_fit_fifteen() {
        assert_eq!(port_name("", "TCP", 8080), "tcp-8080");
        assert_eq!(port_name("http", "TCP", 80), "http");
        assert_eq!(port_name("a-very-long-port-name", "UDP", 53), "udp-53");
        assert!(is_port_name(&port_name("", "SCTP", 65535)));
        assert!(!is_port_name("8080"));
    }

    #[test]
    fn collisions_name_both_services() {
        let names = ["web-app".to_string(), "web_app".to_string()];
        let err = assign("service", names.iter()).unwrap_err().to_string();
        assert!(err.contains("web-app") && err.contains("web_app"), "{err}");
    }
}
