//! Sensitive-data detection before a publish, as docker compose does it with
//! DefangLabs/secret-detector's default scanner: the same detectors in the same
//! order (the first to find a key wins), the same key-value and exact-value
//! regexes, and the same key paths (`services.web.environment.API_KEY` for a
//! compose file, `API_KEY` for an env file, nothing for an unstructured file).
//!
//! The XML transformer is left out: compose files, env files and the configs
//! and secrets users publish next to them are YAML, JSON, INI or plain text.

use std::collections::{BTreeMap, HashSet};

use base64::Engine as _;
use regex::Regex;
use serde_yaml_ng::Value;

/// One finding: the detector's name for what it found, the key it was under
/// (empty for unstructured text) and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `AWS Client ID`, `Github authentication`, …
    pub kind: String,
    /// The flattened key, or empty.
    pub key: String,
    /// The value as found.
    pub value: String,
}

type Verifier = fn(&str, &str) -> bool;

enum Check {
    /// A value regex with an optional check of (key, value).
    Pattern(Option<Verifier>),
    /// A secret-sounding key with a value whose entropy reaches a threshold.
    Keyword { key: Regex, threshold: f64 },
    /// A high-entropy base64/hex string.
    Entropy(f64),
}

/// One detector: how it finds candidates in text and in key-value maps.
pub struct Detector {
    kind: &'static str,
    key_value: Vec<Regex>,
    exact: Vec<Regex>,
    check: Check,
}

// secret-detector's helpers/key_value_regex.go, pieces as named there.
const LINE_PREFIX: &str = r"(?:^|[\t ]+)";
const DECLARE: &str = r"(?i)(?:(?:var|let|set|dim|declare|export|const|readonly)[\t ]+)?(?-i)";
const KEY_PREFIX: &str = r#"\[?[\t ]*['"]?"#;
const KEY_SUFFIX: &str = r#"['"]?[\t ]*\]?"#;
const VALUE_PREFIX: &str = r#"\[?[\t ]*['"]?"#;
const VALUE_SUFFIX: &str = r#"['"]?[\t ]*\]?[\t ]*;?"#;
const LINE_SUFFIX: &str = r"(?:[\t ]+|$)";

fn default_key_value(value: &str, newlines: bool) -> Regex {
    let delimiter = if newlines {
        r"\s*(:|=|:=)\s*"
    } else {
        r"[^\S\r\n]*(:|=|:=)[^\S\r\n]*"
    };
    let re = format!(
        r"(?m){LINE_PREFIX}(?:{DECLARE}{KEY_PREFIX}([\t a-zA-Z0-9$/_-]+){KEY_SUFFIX}{delimiter})?{VALUE_PREFIX}({value}){VALUE_SUFFIX}{LINE_SUFFIX}"
    );
    Regex::new(&re).expect("static detector regex")
}

fn exact_value(value: &str) -> Regex {
    Regex::new(&format!(r"(?m)^\s*{VALUE_PREFIX}{value}{VALUE_SUFFIX}\s*$"))
        .expect("static detector regex")
}

fn pattern(kind: &'static str, values: &[&str], verify: Option<Verifier>) -> Detector {
    Detector {
        kind,
        key_value: values.iter().map(|v| default_key_value(v, true)).collect(),
        exact: values.iter().map(|v| exact_value(v)).collect(),
        check: Check::Pattern(verify),
    }
}

fn pattern_one_line(kind: &'static str, value: &str, verify: Verifier) -> Detector {
    Detector {
        kind,
        key_value: vec![default_key_value(value, false)],
        exact: vec![exact_value(value)],
        check: Check::Pattern(Some(verify)),
    }
}

const SUSPICIOUS_KEYS: &[&str] = &[
    "api[-_]?key",
    "access[-_]?key",
    "auth[-_]?key",
    "service[-_]?key",
    "account[-_]?key",
    "db[-_]?key",
    "database[-_]?key",
    "priv[-_]?key",
    "private[-_]?key",
    "client[-_]?key",
    "db[-_]?pass",
    "database[-_]?pass",
    "key[-_]?pass",
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "contraseña",
    "contrasena",
];

/// Values that are neither `$VAR` nor `{…}` expressions, three characters or more.
const KEYWORD_VALUES: &str = r"[^${\s].+[^}\s]";

/// The keyword detector: secret-sounding keys whose value's Shannon entropy is
/// at least `threshold` (docker compose's env check uses 0, the scanner 4).
pub fn keyword(threshold: f64) -> Detector {
    let key = format!(
        r"[.\[~\-\w]*(?i)(?:{})(?-i)[.\[\]~\-\w]*",
        SUSPICIOUS_KEYS.join("|")
    );
    let key_value = format!(
        r"(?m){LINE_PREFIX}{DECLARE}{KEY_PREFIX}({key}){KEY_SUFFIX}\s*(:|=|:=)\s*{VALUE_PREFIX}({KEYWORD_VALUES}){VALUE_SUFFIX}{LINE_SUFFIX}"
    );
    Detector {
        kind: "Keyword Detector",
        key_value: vec![Regex::new(&key_value).expect("static detector regex")],
        exact: vec![exact_value(KEYWORD_VALUES)],
        check: Check::Keyword {
            key: Regex::new(&format!(
                r"(?m)^\s*{DECLARE}{KEY_PREFIX}{key}{KEY_SUFFIX}\s*$"
            ))
            .expect("static detector regex"),
            threshold,
        },
    }
}

/// The default scanner's detectors, in its order.
fn default_detectors() -> Vec<Detector> {
    vec![
        pattern(
            "JFrog Artifactory credentials",
            &[r"AKC[a-zA-Z0-9]{10,}"],
            None,
        ),
        pattern(
            "AWS Client ID",
            &[r"(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16}"],
            None,
        ),
        pattern(
            "AWS Secret Key",
            &[r#"(?:AWS|aws).{0,20}['"][0-9a-zA-Z/+]{40}['"]"#],
            None,
        ),
        pattern(
            "Amazon Marketplace Web Service (MWS) Key",
            &[r"amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"],
            None,
        ),
        pattern(
            "Azure Storage Account access key",
            &[r"(AccountKey=)?[a-zA-Z0-9+/=]{88}"],
            Some(|k, v| v.starts_with("AccountKey") || k.ends_with("AccountKey")),
        ),
        pattern_one_line(
            "HTTP Basic Authentication",
            r#"(?i)(?:"?authorization"? *[:=] *)?"?basic(?-i) +[a-zA-Z0-9+/,_\-]{2,}={0,2}"?"#,
            base64_with_colon,
        ),
        pattern_one_line(
            "HTTP Bearer Authentication",
            r#"(?i)(?:"?authorization"? *[:=] *)?"?bearer(?-i) +[a-zA-Z0-9+/,_\-.=]{2,}"?"#,
            base64_with_colon,
        ),
        pattern(
            "Github authentication",
            &[r"gh[pousr]_[A-Za-z0-9_]{36}"],
            None,
        ),
        pattern(
            "JSON Web Token",
            &[r"eyJ[A-Za-z0-9_=-]+\.eyJ[A-Za-z0-9_=-]+\.?[A-Za-z0-9_.+/=-]*"],
            Some(|_, v| jwt_is_valid(v)),
        ),
        keyword(4.0),
        pattern("Mailchimp API Key", &[r"[0-9a-f]{32}-us[0-9]{1,2}"], None),
        pattern(
            "npm auth token",
            &[r"//\S+/:_authToken=[^${\s]\S+", r"npm_[a-zA-Z0-9]{36}"],
            None,
        ),
        pattern(
            "Private Key",
            &[
                r".*PuTTY-User-Key-File-.*",
                r"(-*BEGIN[ \S]+?PRIVATE KEY(?: BLOCK)?-*)([\S\n]{4,}?)(-*END[ \S]+?PRIVATE KEY(?: BLOCK)?-*)",
            ],
            None,
        ),
        pattern(
            "Sendgrid API key",
            &[r"SG\.[a-zA-Z0-9_-]{22}\.[a-zA-Z0-9_-]{43}"],
            None,
        ),
        pattern(
            "Slack token",
            &[
                r"(?:(?:xoxe\.)?xox[bp]|xox[aeosr]|xapp)-\d+-[-a-zA-Z0-9]+",
                r"https://hooks\.slack\.com/services/T[a-zA-Z0-9_]+/B[a-zA-Z0-9_]+/[a-zA-Z0-9_]+",
            ],
            None,
        ),
        pattern(
            "Square authentication",
            &[r"sq0atp-[0-9A-Za-z\\_-]{22}", r"sq0csp-[0-9A-Za-z\\_-]{43}"],
            None,
        ),
        pattern(
            "Stripe API key",
            &[r"[rs]k_(live|test)_[0-9a-zA-Z]{24}"],
            None,
        ),
        pattern(
            "Twilio authentication",
            &[r"AC[0-9a-fA-F]{32}", r"SK[0-9a-fA-F]{32}"],
            None,
        ),
        pattern(
            "URL with password",
            &[r#"[a-z][a-z0-9+.-]+://[^:\s]*:[^@:\s]+@[^\s'"\];]+"#],
            Some(|_, v| url_has_password(v)),
        ),
        Detector {
            kind: "High entropy string",
            key_value: vec![default_key_value(
                r"(?:[a-zA-Z0-9+/]{16,}|[a-zA-Z0-9_-]{16,})={0,2}",
                true,
            )],
            exact: vec![exact_value(
                r"(?:[a-zA-Z0-9+/]{16,}|[a-zA-Z0-9_-]{16,})={0,2}",
            )],
            check: Check::Entropy(5.0),
        },
    ]
}

impl Detector {
    fn accepts(&self, key: &str, value: &str) -> bool {
        match &self.check {
            Check::Pattern(None) => true,
            Check::Pattern(Some(v)) => v(key, value),
            Check::Keyword { threshold, .. } => shannon_entropy(value) >= *threshold,
            Check::Entropy(t) => value.parse::<f64>().is_err() && shannon_entropy(value) > *t,
        }
    }

    /// Findings in unstructured text.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        for re in &self.key_value {
            for caps in re.captures_iter(text) {
                let key = caps.get(1).map_or("", |m| m.as_str()).trim();
                let value = caps.get(3).map_or("", |m| m.as_str()).trim();
                if self.accepts(key, value) {
                    out.push(Finding {
                        kind: self.kind.to_string(),
                        key: key.to_string(),
                        value: value.to_string(),
                    });
                }
            }
        }
        out
    }

    /// Findings in key-value pairs (visited in key order, for stable output).
    pub fn scan_map(&self, map: &BTreeMap<String, String>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (key, value) in map {
            if let Check::Keyword { key: key_re, .. } = &self.check {
                if !key_re.is_match(key) {
                    continue;
                }
            }
            if self.exact.iter().any(|r| r.is_match(value)) && self.accepts(key, value) {
                out.push(Finding {
                    kind: self.kind.to_string(),
                    key: key.clone(),
                    value: value.clone(),
                });
            }
        }
        out
    }
}

/// The Shannon entropy of `s`, in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts: BTreeMap<char, f64> = BTreeMap::new();
    for c in s.chars() {
        *counts.entry(c).or_default() += 1.0;
    }
    // Go's len() counts bytes: the frequencies are per byte of the string.
    let len = s.len() as f64;
    counts
        .values()
        .map(|n| {
            let f = n / len;
            -f * f.log2()
        })
        .sum()
}

fn base64_with_colon(_: &str, s: &str) -> bool {
    let Some(last) = s.split(' ').next_back() else {
        return false;
    };
    let param = last.strip_suffix('"').unwrap_or(last);
    match base64::engine::general_purpose::STANDARD.decode(param) {
        Ok(d) if d.len() > 2 => d[1..d.len() - 1].contains(&b':'),
        _ => false,
    }
}

fn url_has_password(s: &str) -> bool {
    let Some((_, rest)) = s.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return false;
    };
    match userinfo.split_once(':') {
        Some((_, pwd)) => !pwd.is_empty() && !pwd.starts_with('$'),
        None => false,
    }
}

fn json_object(segment: &str, url: bool) -> Option<serde_json::Map<String, serde_json::Value>> {
    let bytes = if url {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment)
    } else {
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(segment)
    }
    .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(m) => Some(m),
        _ => None,
    }
}

/// golang-jwt's `ParseUnverified` for signed tokens; `alg: none` for unsigned ones.
fn jwt_is_valid(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        2 => {
            json_object(parts[0], false).is_some_and(|h| h.get("alg") == Some(&"none".into()))
                && json_object(parts[1], false).is_some()
        }
        3 => {
            const ALGS: &[&str] = &[
                "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
                "PS256", "PS384", "PS512", "EdDSA", "none",
            ];
            let Some(header) = json_object(parts[0], true) else {
                return false;
            };
            let alg_known = header
                .get("alg")
                .and_then(|a| a.as_str())
                .is_some_and(|a| ALGS.contains(&a));
            alg_known
                && json_object(parts[1], true).is_some()
                && base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(parts[2])
                    .is_ok()
        }
        _ => false,
    }
}

/// How a file's content is read before the detectors see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.json`
    Json,
    /// `.yaml`, `.yml`
    Yaml,
    /// `.env`, `.ini`, `.cfg`, `.conf`, `.properties`, …
    Ini,
    /// Anything else: each structured reading is tried, then plain text.
    Unknown,
}

impl Format {
    /// secret-detector's `dataformat.FromPath`.
    pub fn of_path(path: &str) -> Format {
        let ext = std::path::Path::new(path)
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "json" => Format::Json,
            "yaml" | "yml" => Format::Yaml,
            "ini" | "cnf" | "conf" | "cf" | "cfg" | "env" | "properties" => Format::Ini,
            _ => Format::Unknown,
        }
    }
}

/// The default scanner.
pub struct Scanner {
    detectors: Vec<Detector>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            detectors: default_detectors(),
        }
    }
}

impl Scanner {
    /// Scans text read as `format`: structured content as flattened key-value
    /// pairs, anything else line by line.
    pub fn scan(&self, text: &str, format: Format) -> Vec<Finding> {
        let text = text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        let transformed = match format {
            Format::Json => from_json(text),
            Format::Yaml => from_yaml(text),
            Format::Ini => from_ini(text),
            Format::Unknown => from_json(text)
                .or_else(|| from_yaml(text))
                .or_else(|| from_ini(text)),
        };
        let found = match transformed {
            Some(map) => self.scan_map(&map),
            None => self.scan_text(text),
        };
        dedup_by_key(found)
    }

    /// Scans key-value pairs with every detector.
    pub fn scan_map(&self, map: &BTreeMap<String, String>) -> Vec<Finding> {
        self.detectors
            .iter()
            .flat_map(|d| d.scan_map(map))
            .collect()
    }

    fn scan_text(&self, text: &str) -> Vec<Finding> {
        let multiline = text.contains('\n');
        let mut out = Vec::new();
        for d in &self.detectors {
            out.extend(d.scan(text));
            // A one-liner holds one secret at most: the first detector to find it wins.
            if !multiline && !out.is_empty() {
                break;
            }
        }
        out
    }

    /// Scans a file, choosing the reading from its extension; binary files are skipped.
    pub fn scan_file(&self, path: &std::path::Path) -> std::io::Result<Vec<Finding>> {
        let bytes = std::fs::read(path)?;
        let Ok(text) = String::from_utf8(bytes) else {
            return Ok(Vec::new());
        };
        if text
            .chars()
            .take(1024)
            .any(|c| c < ' ' && !matches!(c, '\n' | '\t' | '\x0c' | '\r'))
        {
            return Ok(Vec::new());
        }
        Ok(self.scan(&text, Format::of_path(&path.to_string_lossy())))
    }
}

/// Keeps the first finding per key (several detectors may see one value);
/// key-less findings all stay.
fn dedup_by_key(found: Vec<Finding>) -> Vec<Finding> {
    let mut seen = HashSet::new();
    found
        .into_iter()
        .filter(|f| f.key.is_empty() || seen.insert(f.key.clone()))
        .collect()
}

fn from_json(text: &str) -> Option<BTreeMap<String, String>> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let v = serde_yaml_ng::to_value(v.as_object()?).ok()?;
    Some(flatten(&v))
}

fn from_yaml(text: &str) -> Option<BTreeMap<String, String>> {
    let v: Value = serde_yaml_ng::from_str(text).ok()?;
    match v {
        Value::Mapping(_) => Some(flatten(&v)),
        _ => None,
    }
}

/// A tree flattened to `a.b[0].c` keys, as secret-detector's `Flatten`.
pub fn flatten(v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten_into(&mut String::new(), v, &mut out);
    out
}

fn flatten_into(prefix: &mut String, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                let k = crate::compose::yaml::key_string(k).unwrap_or_default();
                let len = prefix.len();
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(&k);
                flatten_into(prefix, v, out);
                prefix.truncate(len);
            }
        }
        Value::Sequence(s) => {
            for (i, v) in s.iter().enumerate() {
                let len = prefix.len();
                prefix.push_str(&format!("[{i}]"));
                flatten_into(prefix, v, out);
                prefix.truncate(len);
            }
        }
        Value::Tagged(t) => flatten_into(prefix, &t.value, out),
        Value::Null => {
            out.insert(prefix.clone(), String::new());
        }
        Value::String(s) => {
            out.insert(prefix.clone(), s.clone());
        }
        Value::Bool(b) => {
            out.insert(prefix.clone(), b.to_string());
        }
        Value::Number(n) => {
            out.insert(prefix.clone(), n.to_string());
        }
    }
}

/// go-ini's reading (sections, `key = value` or `key: value`, `#`/`;`
/// comments); a line that is none of these means the text is not INI.
fn from_ini(text: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            if section.eq_ignore_ascii_case("default") {
                section.clear();
            }
            continue;
        }
        let at = line.find(['=', ':'])?;
        let key = line[..at].trim();
        if key.is_empty() {
            return None;
        }
        let mut value = line[at + 1..].trim();
        for q in ['"', '\'', '`'] {
            if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
                value = &value[1..value.len() - 1];
                break;
            }
        }
        let key = if section.is_empty() {
            key.to_string()
        } else {
            format!("{section}.{key}")
        };
        out.insert(key, value.to_string());
    }
    // A lone `key=` at the very end is more likely base64 padding than INI.
    if out.len() <= 1 && text.find('=').is_some_and(|i| i + 2 >= text.len()) {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values from docker/compose pkg/e2e/testdata/TestPublishDetectSensitiveData.
    #[test]
    fn finds_what_docker_compose_finds() {
        let s = Scanner::default();
        let mut env = BTreeMap::new();
        env.insert(
            "services.serviceA.environment.AWS_ACCESS_KEY_ID".to_string(),
            "A3TX1234567890ABCDEF".to_string(),
        );
        env.insert(
            "services.serviceA.environment.AWS_SECRET_ACCESS_KEY".to_string(),
            r#"aws"12345+67890/abcdefghijklm+NOPQRSTUVWXYZ+""#.to_string(),
        );
        env.insert("services.serviceA.image".to_string(), "alpine:3.12".into());
        let f = dedup_by_key(s.scan_map(&env));
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().any(|f| f.kind == "AWS Client ID"));
        assert!(f.iter().any(|f| f.kind == "AWS Secret Key"));

        let f = s.scan(
            "GITHUB_TOKEN=ghp_1234567890abcdefghijklmnopqrstuvwxyz\n",
            Format::Ini,
        );
        assert_eq!(f[0].kind, "Github authentication");
        assert_eq!(f[0].key, "GITHUB_TOKEN");
        assert_eq!(f.len(), 1);

        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        let f = s.scan(jwt, Format::Unknown);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, "JSON Web Token");
        assert_eq!((f[0].key.as_str(), f[0].value.as_str()), ("", jwt));

        let pk = "-----BEGIN DSA PRIVATE KEY-----\nwxyz+ABC=\n-----END DSA PRIVATE KEY-----\n";
        let f = s.scan(pk, Format::Unknown);
        assert!(
            f.iter()
                .any(|f| f.kind == "Private Key" && f.value == pk.trim()),
            "{f:?}"
        );
    }

    #[test]
    fn short_or_interpolated_values_are_not_secrets() {
        let s = Scanner::default();
        let f = s.scan("MYSQL_ROOT_PASSWORD=bar\nOTHER=x\n", Format::Ini);
        assert!(f.is_empty(), "{f:?}");
        let k = keyword(0.0);
        let mut m = BTreeMap::new();
        m.insert("MYSQL_ROOT_PASSWORD".to_string(), "bar".to_string());
        m.insert("DB_PASSWORD".to_string(), "${DB_PASSWORD}".to_string());
        m.insert("API_TOKEN".to_string(), "$TOKEN".to_string());
        m.insert("HOST".to_string(), "example.org".to_string());
        let keys: Vec<String> = k.scan_map(&m).into_iter().map(|f| f.key).collect();
        assert_eq!(keys, ["MYSQL_ROOT_PASSWORD"]);
    }

    #[test]
    fn urls_with_passwords_and_basic_auth() {
        assert!(url_has_password("postgres://u:pw@db/x"));
        assert!(!url_has_password("postgres://u:$PW@db/x"));
        assert!(!url_has_password("https://example.org/a:b"));
        let s = Scanner::default();
        let f = s.scan("Authorization: Basic dXNlcjpwYXNz", Format::Unknown);
        assert_eq!(f[0].kind, "HTTP Basic Authentication", "{f:?}");
    }
}
