//! `docker compose config` output: YAML as Go's yaml.v3 encoder writes it
//! (2-space indent, indented sequences, Go's quoting), JSON as Go's
//! `encoding/json` writes it (HTML-escaped), and `$` doubled so the output
//! can be loaded again.

use serde_json::{Map, Value as Json};

use crate::compose::model::ser::with_json_mode;
use crate::compose::model::Project;

/// Escapes what Go's `encoding/json` escapes beyond serde_json: `<`, `>`, `&`,
/// U+2028 and U+2029 (they only occur inside strings).
pub fn go_json_escape(s: &str) -> String {
    // Most text has none: copied whole, not char by char (every service's
    // config hash goes through here on each `up`). 0xe2 leads U+2028 and U+2029.
    let Some(first) = s
        .bytes()
        .position(|b| matches!(b, b'<' | b'>' | b'&' | 0xe2))
    else {
        return s.to_owned();
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `docker compose config` doubles every `$` so the output stays loadable.
pub fn escape_dollars(s: &str) -> String {
    s.replace('$', "$$")
}

/// The project as YAML, exactly as `docker compose config` prints it.
pub fn to_yaml(project: &Project) -> String {
    let mut v = serde_json::to_value(project).unwrap_or(Json::Null);
    sort_extensions(&mut v);
    escape_dollars(&emit_yaml(&v))
}

fn sort_json(v: &mut Json) {
    match v {
        Json::Object(m) => {
            let mut entries: Vec<(String, Json)> = std::mem::take(m).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, e) in entries.iter_mut() {
                sort_json(e);
            }
            *m = entries.into_iter().collect();
        }
        Json::Array(a) => a.iter_mut().for_each(sort_json),
        _ => {}
    }
}

/// `x-*` values are Go maps in compose-go, so their keys print sorted at
/// every depth; the typed parts keep struct order.
fn sort_extensions(v: &mut Json) {
    match v {
        Json::Object(m) => {
            for (k, e) in m.iter_mut() {
                if k.starts_with("x-") {
                    sort_json(e);
                } else {
                    sort_extensions(e);
                }
            }
        }
        Json::Array(a) => a.iter_mut().for_each(sort_extensions),
        _ => {}
    }
}

/// The project as JSON, exactly as `docker compose config --format json` prints it.
pub fn to_json(project: &Project) -> String {
    let v = with_json_mode(|| project_json(project));
    let text = serde_json::to_string_pretty(&v).unwrap_or_default();
    escape_dollars(&go_json_escape(&text))
}

fn project_json(project: &Project) -> Json {
    // compose-go marshals the project through a Go map: keys come out sorted.
    let mut entries: Vec<(String, Json)> = Vec::new();
    entries.push(("name".into(), Json::String(project.name.clone())));
    entries.push((
        "services".into(),
        serde_json::to_value(&project.services).unwrap_or(Json::Null),
    ));
    if !project.networks.is_empty() {
        entries.push((
            "networks".into(),
            serde_json::to_value(&project.networks).unwrap_or(Json::Null),
        ));
    }
    if !project.volumes.is_empty() {
        entries.push((
            "volumes".into(),
            serde_json::to_value(&project.volumes).unwrap_or(Json::Null),
        ));
    }
    if !project.secrets.is_empty() {
        entries.push((
            "secrets".into(),
            serde_json::to_value(&project.secrets).unwrap_or(Json::Null),
        ));
    }
    if !project.configs.is_empty() {
        entries.push((
            "configs".into(),
            serde_json::to_value(&project.configs).unwrap_or(Json::Null),
        ));
    }
    for (k, v) in &project.extensions {
        entries.push((k.clone(), serde_json::to_value(v).unwrap_or(Json::Null)));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut v = Json::Object(entries.into_iter().collect::<Map<String, Json>>());
    sort_extensions(&mut v);
    v
}

/// A raw tree (no typed model) with every mapping sorted, as Go prints a `map[string]any`.
pub fn sorted_tree(v: &serde_yaml_ng::Value) -> Json {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => Json::Null,
        Y::Bool(b) => Json::Bool(*b),
        Y::Number(n) => serde_json::to_value(n).unwrap_or(Json::Null),
        Y::String(s) => Json::String(s.clone()),
        Y::Sequence(items) => Json::Array(items.iter().map(sorted_tree).collect()),
        Y::Mapping(m) => {
            let mut entries: Vec<(String, Json)> = m
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s.clone(),
                        other => serde_yaml_ng::to_string(other)
                            .unwrap_or_default()
                            .trim_end()
                            .to_string(),
                    };
                    (key, sorted_tree(v))
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().collect())
        }
        Y::Tagged(t) => sorted_tree(&t.value),
    }
}

/// Serializes any JSON-shaped value as Go's yaml.v3 encoder with indent 2.
pub fn emit_yaml(v: &Json) -> String {
    emit_yaml_indent(v, 2)
}

/// Serializes as yaml.v3 with the given indent (`yaml.Marshal` uses 4).
pub fn emit_yaml_indent(v: &Json, step: usize) -> String {
    let mut out = String::new();
    match v {
        Json::Object(m) if !m.is_empty() => emit_map(m, 0, step, &mut out),
        Json::Array(a) if !a.is_empty() => emit_seq(a, 0, step, &mut out),
        other => {
            out.push_str(&inline(other, 0));
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn emit_map(m: &Map<String, Json>, indent: usize, step: usize, out: &mut String) {
    let mut first = true;
    for (k, v) in m {
        if !first {
            pad(out, indent);
        }
        first = false;
        out.push_str(&scalar_string(k));
        out.push(':');
        emit_value_after_key(v, indent, step, out);
    }
}

fn emit_value_after_key(v: &Json, indent: usize, step: usize, out: &mut String) {
    match v {
        Json::Object(m) if !m.is_empty() => {
            out.push('\n');
            pad(out, indent + step);
            emit_map(m, indent + step, step, out);
        }
        Json::Array(a) if !a.is_empty() => {
            out.push('\n');
            pad(out, indent + step);
            emit_seq(a, indent + step, step, out);
        }
        Json::String(s) if literal_allowed(s) => {
            out.push(' ');
            literal(s, indent + step, out);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other, indent));
            out.push('\n');
        }
    }
}

// Callers have already written the indentation of the first item.
fn emit_seq(a: &[Json], indent: usize, step: usize, out: &mut String) {
    let mut first = true;
    for item in a {
        if !first {
            pad(out, indent);
        }
        first = false;
        out.push_str("- ");
        match item {
            Json::Object(m) if !m.is_empty() => emit_map(m, indent + step, step, out),
            Json::Array(inner) if !inner.is_empty() => emit_seq(inner, indent + step, step, out),
            Json::String(s) if literal_allowed(s) => literal(s, indent + step, out),
            other => {
                out.push_str(&inline(other, indent));
                out.push('\n');
            }
        }
    }
}

/// yaml.v3 asks for a literal block for multi-line strings; libyaml falls
/// back to double quotes when the text cannot be a block (tabs and other
/// non-printables, a space before a line break, a trailing space).
fn literal_allowed(s: &str) -> bool {
    s.contains('\n')
        && s.chars().all(|c| c == '\n' || printable(c))
        && !s.contains(" \n")
        && !s.ends_with(' ')
}

fn literal(s: &str, indent: usize, out: &mut String) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let lead = if s.starts_with(' ') { "2" } else { "" };
    out.push('|');
    out.push_str(lead);
    out.push_str(chomp);
    out.push('\n');
    let body = if trailing == 1 {
        &s[..s.len() - 1]
    } else {
        s.trim_end_matches('\n')
    };
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    if trailing > 1 {
        for _ in 1..trailing {
            out.push('\n');
        }
    }
}

fn inline(v: &Json, _indent: usize) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => number(n),
        Json::String(s) => scalar_string(s),
        Json::Array(_) => "[]".into(),
        Json::Object(_) => "{}".into(),
    }
}

fn number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    format!("{f}")
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn resolves_non_string(s: &str) -> bool {
    if matches!(
        s,
        "" | "~"
            | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
            | ".nan"
            | ".NaN"
            | ".NAN"
    ) {
        return true;
    }
    let plain = s.replace('_', "");
    let digits = plain.trim_start_matches(['+', '-']);
    let is_int = !digits.is_empty()
        && (digits.chars().all(|c| c.is_ascii_digit())
            || digits
                .strip_prefix("0x")
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || digits
                .strip_prefix("0o")
                .is_some_and(|o| !o.is_empty() && o.chars().all(|c| ('0'..='7').contains(&c)))
            || digits
                .strip_prefix("0b")
                .is_some_and(|b| !b.is_empty() && b.chars().all(|c| c == '0' || c == '1')));
    if is_int {
        return true;
    }
    is_yaml_float(&plain) || is_timestamp(s) || is_base60(s)
}

fn is_yaml_float(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mant_ok = if let Some(frac) = mantissa.strip_prefix('.') {
        !frac.is_empty() && frac.chars().all(|c| c.is_ascii_digit())
    } else {
        let (int, frac) = match mantissa.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (mantissa, None),
        };
        !int.is_empty()
            && int.chars().all(|c| c.is_ascii_digit())
            && frac.is_none_or(|f| f.chars().all(|c| c.is_ascii_digit()))
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mant_ok && exp_ok
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && (b.len() == 10 || matches!(b[10], b'T' | b't' | b' '))
}

fn is_base60(s: &str) -> bool {
    // yaml.v3: ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, frac) = match t.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (t, None),
    };
    let mut parts = main.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    let head_ok = head.starts_with(|c: char| c.is_ascii_digit())
        && head.chars().all(|c| c.is_ascii_digit() || c == '_');
    let rest: Vec<&str> = parts.collect();
    head_ok
        && !rest.is_empty()
        && rest.iter().all(|p| {
            let b = p.as_bytes();
            match b.len() {
                1 => b[0].is_ascii_digit(),
                2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
                _ => false,
            }
        })
        && frac.is_none_or(|f| f.chars().all(|c| c.is_ascii_digit() || c == '_'))
}

fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{85}')
        || (' '..='~').contains(&c)
        || (('\u{a0}'..='\u{d7ff}').contains(&c)
            || ('\u{e000}'..='\u{fffd}').contains(&c)
            || ('\u{10000}'..='\u{10ffff}').contains(&c))
            && c != '\u{feff}'
}

/// How libyaml's emitter would let a string be written.
fn plain_allowed(s: &str) -> (bool, bool) {
    if s.is_empty() {
        return (false, true);
    }
    if s.starts_with("---") || s.starts_with("...") {
        return (false, true);
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = false;
    let mut special = false;
    let blank = |c: Option<&char>| matches!(c, None | Some(' ' | '\t' | '\n' | '\r'));
    for (i, c) in chars.iter().enumerate() {
        let next = chars.get(i + 1);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if blank(next) => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if blank(next) => block_indicators = true,
                '#' if matches!(chars[i - 1], ' ' | '\t') => block_indicators = true,
                _ => {}
            }
        }
        if !printable(*c) {
            special = true;
        }
    }
    let lead_space = matches!(chars[0], ' ' | '\t');
    let trail_space = matches!(chars[chars.len() - 1], ' ' | '\t');
    let plain = !block_indicators && !special && !lead_space && !trail_space;
    (plain, !special)
}

/// A string scalar with Go yaml.v3's quoting choice.
pub fn scalar_string(s: &str) -> String {
    // Multi-line text that cannot be a literal block is double-quoted.
    if resolves_non_string(s) || is_old_bool(s) || s.contains('\n') {
        return double_quoted(s);
    }
    match plain_allowed(s) {
        (true, _) => s.to_string(),
        (false, true) => format!("'{}'", s.replace('\'', "''")),
        (false, false) => double_quoted(s),
    }
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quoting_like_go() {
        assert_eq!(scalar_string("8080"), "\"8080\"");
        assert_eq!(scalar_string("yes"), "\"yes\"");
        assert_eq!(scalar_string("true"), "\"true\"");
        assert_eq!(scalar_string(""), "\"\"");
        assert_eq!(scalar_string("1.5"), "\"1.5\"");
        assert_eq!(scalar_string("nginx:latest"), "nginx:latest");
        assert_eq!(scalar_string("*"), "'*'");
        assert_eq!(scalar_string("a: b"), "'a: b'");
        assert_eq!(scalar_string("CMD-SHELL"), "CMD-SHELL");
        assert_eq!(scalar_string("-c"), "-c");
        assert_eq!(scalar_string("- x"), "'- x'");
        assert_eq!(scalar_string("12:30"), "\"12:30\"");
        assert_eq!(scalar_string("a\tb"), "\"a\\tb\"");
        assert_eq!(scalar_string("/bin/sh"), "/bin/sh");
        assert_eq!(scalar_string("1_000.5"), "\"1_000.5\"");
        assert_eq!(scalar_string("2024-01-02"), "\"2024-01-02\"");
        assert_eq!(scalar_string("0x1F"), "\"0x1F\"");
    }

    #[test]
    fn block_layout() {
        let v = json!({"services": {"web": {"command": ["a", "b"], "ports": [{"mode": "ingress", "target": 80}], "x": {}}}});
        assert_eq!(
            emit_yaml(&v),
            "services:\n  web:\n    command:\n      - a\n      - b\n    ports:\n      - mode: ingress\n        target: 80\n    x: {}\n"
        );
    }

    #[test]
    fn literal_blocks() {
        let v = json!({"content": "line1\nline2\n"});
        assert_eq!(emit_yaml(&v), "content: |\n  line1\n  line2\n");
        let v = json!({"c": "a\nb"});
        assert_eq!(emit_yaml(&v), "c: |-\n  a\n  b\n");
        let v = json!({"c": "a \nb"});
        assert_eq!(emit_yaml(&v), "c: \"a \\nb\"\n");
        let v = json!({"c": ["x\ny\n"]});
        assert_eq!(emit_yaml(&v), "c:\n  - |\n    x\n    y\n");
    }
}
