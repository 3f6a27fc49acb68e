//! Published ports: the long form compose-go prints and the short-syntax
//! parser (docker/go-connections `nat.ParsePortSpecs`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::compose::model::cast;
use crate::compose::model::ser::{is_zero_u32, skip_extensions};

/// One port of a service, in long syntax.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServicePortConfig {
    /// Optional human-readable name.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub name: String,
    /// `ingress` (default) or `host`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub mode: String,
    /// Host address to bind, empty for all.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub host_ip: String,
    /// Container port.
    #[serde(
        default,
        skip_serializing_if = "is_zero_u32",
        deserialize_with = "cast::u32"
    )]
    pub target: u32,
    /// Host port or range, empty for a random one.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub published: String,
    /// `tcp` (default), `udp` or `sctp`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub protocol: String,
    /// Application protocol hint (`http`, …).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "cast::string"
    )]
    pub app_protocol: String,
    /// `x-*` keys.
    #[serde(flatten, skip_serializing_if = "skip_extensions")]
    pub extensions: BTreeMap<String, Value>,
}

fn parse_range(s: &str) -> Result<(u64, u64), ()> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let a: u64 = a.parse().map_err(|_| ())?;
    let b: u64 = b.parse().map_err(|_| ())?;
    if b < a || b > 65535 {
        return Err(());
    }
    Ok((a, b))
}

/// Parses `[[ip:](port|range):](port|range)[/proto]` into long-syntax entries,
/// sorted by `port/proto` text as compose-go does.
pub fn parse_port_spec(raw: &str) -> Result<Vec<ServicePortConfig>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1];
    let (mut ip, host) = match n {
        1 => (String::new(), ""),
        2 => (String::new(), parts[0]),
        3 => (parts[0].to_string(), parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2]),
    };
    let (container, proto) = match container.split_once('/') {
        Some((c, p)) => (c, p),
        None => (container, "tcp"),
    };
    if let Some(inner) = ip.strip_prefix('[') {
        ip = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("invalid IP address: {ip}"))?
            .to_string();
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let (start, end) =
        parse_range(container).map_err(|_| format!("invalid containerPort: {container}"))?;
    let (hstart, hend) = if host.is_empty() {
        (0, 0)
    } else {
        parse_range(host).map_err(|_| format!("invalid hostPort: {host}"))?
    };
    if !host.is_empty() && end - start != hend - hstart && end != start {
        return Err(format!(
            "invalid ranges specified for container and host Ports: {container} and {host}"
        ));
    }
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let mut published = if host.is_empty() {
            String::new()
        } else {
            (hstart + i).to_string()
        };
        if start == end && hstart != hend {
            published = format!("{published}-{hend}");
        }
        out.push((
            format!("{}/{}", start + i, proto),
            ServicePortConfig {
                mode: "ingress".into(),
                host_ip: ip.clone(),
                target: (start + i) as u32,
                published,
                protocol: proto.clone(),
                ..Default::default()
            },
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> ServicePortConfig {
        let mut v = parse_port_spec(s).unwrap();
        assert_eq!(v.len(), 1, "{s}");
        v.remove(0)
    }

    #[test]
    fn short_forms() {
        let p = one("8080:80");
        assert_eq!(
            (p.target, p.published.as_str(), p.protocol.as_str()),
            (80, "8080", "tcp")
        );
        assert_eq!(p.mode, "ingress");
        let p = one("80");
        assert_eq!((p.target, p.published.as_str()), (80, ""));
        let p = one("127.0.0.1:8080:80/udp");
        assert_eq!(
            (p.host_ip.as_str(), p.protocol.as_str()),
            ("127.0.0.1", "udp")
        );
        let p = one("[::1]:6001:6001");
        assert_eq!(p.host_ip, "::1");
        let p = one("8000-9000:80");
        assert_eq!(p.published, "8000-9000");
    }

    #[test]
    fn ranges() {
        let v = parse_port_spec("3000-3005:3000-3005").unwrap();
        assert_eq!(v.len(), 6);
        assert_eq!(v[0].published, "3000");
        let v = parse_port_spec("3000-3002").unwrap();
        assert!(v.iter().all(|p| p.published.is_empty()));
        // compose-go sorts by the "port/proto" text
        let v = parse_port_spec("9-10").unwrap();
        assert_eq!(v[0].target, 10);
    }

    #[test]
    fn errors() {
        assert!(parse_port_spec("1-3:5-9").is_err());
        assert!(parse_port_spec("abc").is_err());
        assert!(parse_port_spec("80/xyz").is_err());
        assert!(parse_port_spec("1.2.3:80:80").is_err());
    }
}
