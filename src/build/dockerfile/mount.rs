//! `RUN --mount=` values, as BuildKit's `instructions/commands_runmount.go`
//! reads them: CSV fields `key=value` (or bare `ro`, `rw`, `required`), the
//! type's defaults (bind, secret and ssh read-only, cache and tmpfs
//! writable), and the combinations it refuses.
//!
//! At parse time only what cannot depend on variables is checked (the CSV,
//! key names, `from=` without variables); [`MountSpec::resolve`] expands
//! each value with the ARG/ENV in scope and checks the rest.

use super::ast::{Mount, MountSpec, MountType, Sharing};
use super::flags::levenshtein;
use super::substitute::{expand, Lookup};

const KEYS: [&str; 19] = [
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

impl MountSpec {
    /// Checks what can be checked before variables are known.
    pub(crate) fn validate(raw: &str) -> Result<MountSpec, String> {
        for field in csv_fields(raw)? {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if !KEYS.contains(&key.as_str()) {
                return Err(unexpected_key(&key, &field));
            }
            if key == "from" {
                if let Some(i) = value.find('$') {
                    if i != value.len() - 1 {
                        return Err(format!(
                            "'{key}' doesn't support variable expansion, define alias stage instead"
                        ));
                    }
                }
            }
        }
        Ok(MountSpec {
            raw: raw.to_string(),
        })
    }

    /// The mount with every value expanded (`escape` is the Dockerfile's)
    /// and BuildKit's defaults and checks applied.
    pub fn resolve(&self, escape: char, lookup: Lookup<'_>) -> Result<Mount, String> {
        let mut m = Mount {
            kind: MountType::Bind,
            from: None,
            source: None,
            target: None,
            readonly: false,
            size: None,
            id: None,
            sharing: Sharing::Shared,
            required: false,
            env: None,
            mode: None,
            uid: None,
            gid: None,
        };
        let mut sharing_set = false;
        let mut ro_auto = true;
        for field in csv_fields(&self.raw)? {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k.to_ascii_lowercase(), v),
                None => {
                    match field.to_ascii_lowercase().as_str() {
                        "readonly" | "ro" => {
                            m.readonly = true;
                            ro_auto = false;
                        }
                        "readwrite" | "rw" => {
                            m.readonly = false;
                            ro_auto = false;
                        }
                        "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => {
                            m.required = true
                        }
                        "required" => {
                            return Err(format!(
                                "unexpected key 'required' for mount type '{}'",
                                type_name(m.kind)
                            ))
                        }
                        _ => {
                            return Err(format!("invalid field '{field}' must be a key=value pair"))
                        }
                    }
                    continue;
                }
            };
            let value = expand(value, escape, lookup).map_err(|e| e.to_string())?;
            let invalid = || format!("invalid value for {key}: {value}");
            match key.as_str() {
                "type" => {
                    m.kind = match value.to_ascii_lowercase().as_str() {
                        "bind" => MountType::Bind,
                        "cache" => MountType::Cache,
                        "tmpfs" => MountType::Tmpfs,
                        "secret" => MountType::Secret,
                        "ssh" => MountType::Ssh,
                        _ => return Err(format!("unsupported mount type {value:?}")),
                    }
                }
                "from" => m.from = Some(value),
                "source" | "src" => m.source = Some(value),
                "target" | "dst" | "destination" => m.target = Some(value),
                "readonly" | "ro" => {
                    m.readonly = parse_bool(&value).ok_or_else(invalid)?;
                    ro_auto = false;
                }
                "readwrite" | "rw" => {
                    m.readonly = !parse_bool(&value).ok_or_else(invalid)?;
                    ro_auto = false;
                }
                "required" => {
                    if !matches!(m.kind, MountType::Secret | MountType::Ssh) {
                        return Err(format!(
                            "unexpected key '{key}' for mount type '{}'",
                            type_name(m.kind)
                        ));
                    }
                    m.required = parse_bool(&value).ok_or_else(invalid)?;
                }
                "size" => {
                    if m.kind != MountType::Tmpfs {
                        return Err(format!(
                            "unexpected key '{key}' for mount type '{}'",
                            type_name(m.kind)
                        ));
                    }
                    m.size = Some(ram_in_bytes(&value).ok_or_else(invalid)?);
                }
                "id" => m.id = Some(value),
                "sharing" => {
                    m.sharing = match value.to_ascii_lowercase().as_str() {
                        "shared" => Sharing::Shared,
                        "private" => Sharing::Private,
                        "locked" => Sharing::Locked,
                        _ => return Err(format!("unsupported sharing value {value:?}")),
                    };
                    sharing_set = true;
                }
                "mode" => {
                    let mode = u32::from_str_radix(&value, 8)
                        .map_err(|_| format!("invalid value {value} for mode"))?;
                    m.mode = Some(mode);
                }
                "uid" => {
                    m.uid = Some(
                        value
                            .parse()
                            .map_err(|_| format!("invalid value {value} for uid"))?,
                    )
                }
                "gid" => {
                    m.gid = Some(
                        value
                            .parse()
                            .map_err(|_| format!("invalid value {value} for gid"))?,
                    )
                }
                "env" => m.env = Some(value),
                _ => return Err(unexpected_key(&key, &field)),
            }
        }
        let file_info_allowed = matches!(
            m.kind,
            MountType::Secret | MountType::Ssh | MountType::Cache
        );
        if !file_info_allowed {
            for (set, what) in [
                (m.mode.is_some(), "mode"),
                (m.uid.is_some(), "uid"),
                (m.gid.is_some(), "gid"),
            ] {
                if set {
                    return Err(format!(
                        "{what} not allowed for {:?} type mounts",
                        type_name(m.kind)
                    ));
                }
            }
        }
        if ro_auto {
            m.readonly = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
        }
        if m.kind == MountType::Secret {
            if m.from.is_some() {
                return Err("secret mount should not have a from".into());
            }
            if sharing_set {
                return Err("secret mount should not define sharing".into());
            }
            let empty = |o: &Option<String>| o.as_deref().is_none_or(str::is_empty);
            if empty(&m.source) && empty(&m.target) && empty(&m.id) {
                return Err("invalid secret mount. one of source, target required".into());
            }
            if !empty(&m.source) && !empty(&m.id) {
                return Err("both source and id can't be set".into());
            }
        }
        if sharing_set && m.kind != MountType::Cache {
            return Err(format!(
                "invalid cache sharing set for {} mount",
                type_name(m.kind)
            ));
        }
        Ok(m)
    }
}

fn type_name(t: MountType) -> &'static str {
    match t {
        MountType::Bind => "bind",
        MountType::Cache => "cache",
        MountType::Tmpfs => "tmpfs",
        MountType::Secret => "secret",
        MountType::Ssh => "ssh",
    }
}

fn unexpected_key(key: &str, field: &str) -> String {
    let hint = KEYS
        .iter()
        .map(|k| (levenshtein(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(" (did you mean {k}?)"))
        .unwrap_or_default();
    format!("unexpected key '{key}' in '{field}'{hint}")
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// docker/go-units `RAMInBytes`: `64m`, `1.5g`, `512KiB`, binary multiples.
fn ram_in_bytes(s: &str) -> Option<u64> {
    let num_len = s
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (num, unit) = s.split_at(num_len);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    let bytes = n * mult as f64;
    (bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// One CSV record (Go `encoding/csv` rules: `"` quotes a whole field, `""`
/// inside is a quote).
fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let bad = |why: &str| format!("failed to parse csv mounts: {why}");
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(bad("extraneous or missing \" in quoted-field")),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err(bad("extraneous or missing \" in quoted-field")),
            }
            continue;
        }
        loop {
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => break,
                Some('"') => return Err(bad("bare \" in non-quoted-field")),
                Some(c) => field.push(c),
            }
        }
        fields.push(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(raw: &str) -> Result<Mount, String> {
        let spec = MountSpec::validate(raw)?;
        let env = |k: &str| (k == "T").then(|| "cache".to_string());
        spec.resolve('\\', &env)
    }

    #[test]
    fn defaults_per_type() {
        let m = resolve("target=/src").unwrap();
        assert_eq!(
            (m.kind, m.readonly, m.target.as_deref()),
            (MountType::Bind, true, Some("/src"))
        );
        let m = resolve("type=$T,target=/root/.cache,sharing=locked,id=x,mode=0755,uid=1").unwrap();
        assert_eq!(
            (m.kind, m.readonly, m.sharing),
            (MountType::Cache, false, Sharing::Locked)
        );
        assert_eq!(
            (m.mode, m.uid, m.id.as_deref()),
            (Some(0o755), Some(1), Some("x"))
        );
        let m = resolve("type=tmpfs,target=/t,size=64m").unwrap();
        assert_eq!(m.size, Some(64 << 20));
        let m = resolve("type=secret,id=tok,env=TOKEN,required").unwrap();
        assert!(m.required && m.readonly);
        assert_eq!(m.env.as_deref(), Some("TOKEN"));
        let m = resolve("type=bind,from=builder,source=/out,target=/in,rw").unwrap();
        assert!(!m.readonly);
        let m = resolve("\"type=bind\",\"target=/a,b\"").unwrap();
        assert_eq!(m.target.as_deref(), Some("/a,b"));
    }

    #[test]
    fn refusals() {
        let cases = [
            ("type=nfs", "unsupported mount type \"nfs\""),
            (
                "type=bind,mode=0700",
                "mode not allowed for \"bind\" type mounts",
            ),
            (
                "required",
                "unexpected key 'required' for mount type 'bind'",
            ),
            (
                "type=secret",
                "invalid secret mount. one of source, target required",
            ),
            ("type=secret,id=a,src=b", "both source and id can't be set"),
            (
                "type=secret,id=a,from=x",
                "secret mount should not have a from",
            ),
            (
                "type=bind,sharing=shared",
                "invalid cache sharing set for bind mount",
            ),
            (
                "type=cache,sharing=all",
                "unsupported sharing value \"all\"",
            ),
            (
                "type=cache,size=1",
                "unexpected key 'size' for mount type 'cache'",
            ),
            ("type=cache,mode=9", "invalid value 9 for mode"),
            ("ro=maybe", "invalid value for ro: maybe"),
            ("bogus", "invalid field 'bogus' must be a key=value pair"),
        ];
        for (raw, want) in cases {
            assert_eq!(resolve(raw).unwrap_err(), want, "{raw}");
        }
        assert_eq!(
            MountSpec::validate("targt=/x").unwrap_err(),
            "unexpected key 'targt' in 'targt=/x' (did you mean target?)"
        );
        assert_eq!(
            MountSpec::validate("from=$STAGE").unwrap_err(),
            "'from' doesn't support variable expansion, define alias stage instead"
        );
        assert!(MountSpec::validate("type=\"bind").is_err());
    }
}
