//! The Go templates `docker compose ps --format` accepts, over JSON values: text
//! and `{{ }}` actions (with `{{-`/`-}}` trimming), fields (`.Name`, `.A.B`, `.`),
//! string and number literals, pipes, and the Docker CLI's functions (`json`,
//! `upper`, `lower`, `title`, `split`, `join`, `pad`, `truncate`, `println`).
//! A `table` format lays the rows out with docker's tabwriter and a header made
//! by running the same template over the column names.

use serde_json::Value;

/// Why a template could not be parsed or run.
#[derive(Debug, thiserror::Error)]
#[error("template: {0}")]
pub struct TemplateError(String);

type Result<T> = std::result::Result<T, TemplateError>;

fn err<T>(m: impl Into<String>) -> Result<T> {
    Err(TemplateError(m.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Field(Vec<String>),
    Str(String),
    Num(f64),
    Func(String),
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    /// Commands of a pipeline; each is its words.
    Action(Vec<Vec<Arg>>),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `src`; `\t` and `\n` written as two characters become the
    /// characters, as the Docker CLI's formatter does.
    pub fn parse(src: &str) -> Result<Template> {
        let src = src.replace("\\t", "\t").replace("\\n", "\n");
        let mut pieces = vec![];
        let mut rest = src.as_str();
        let mut trim_next = false;
        while let Some(start) = rest.find("{{") {
            let mut text = rest[..start].to_string();
            if trim_next {
                text = text.trim_start().to_string();
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| TemplateError("unclosed action".into()))?;
            let mut inner = &after[..end];
            if let Some(i) = inner.strip_prefix('-') {
                if i.starts_with([' ', '\t', '\n']) {
                    text = text.trim_end().to_string();
                    inner = i;
                }
            }
            trim_next = false;
            if let Some(i) = inner.strip_suffix('-') {
                if i.ends_with([' ', '\t', '\n']) {
                    trim_next = true;
                    inner = i;
                }
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(text));
            }
            pieces.push(Piece::Action(parse_pipeline(inner.trim())?));
            rest = &after[end + 2..];
        }
        let text = if trim_next { rest.trim_start() } else { rest };
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        Ok(Template { pieces })
    }

    /// Runs the template over `data`.
    pub fn execute(&self, data: &Value) -> Result<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Action(cmds) => {
                    let mut prev: Option<Value> = None;
                    for cmd in cmds {
                        prev = Some(run_command(cmd, data, prev)?);
                    }
                    if let Some(v) = prev {
                        out.push_str(&print(&v));
                    }
                }
            }
        }
        Ok(out)
    }
}

fn parse_pipeline(s: &str) -> Result<Vec<Vec<Arg>>> {
    if s.is_empty() {
        return err("missing value for command");
    }
    let words = tokenize(s)?;
    let mut cmds = vec![vec![]];
    for w in words {
        if w == "|" {
            cmds.push(vec![]);
            continue;
        }
        let arg = if let Some(q) = w.strip_prefix('"') {
            Arg::Str(unquote(q)?)
        } else if let Some(q) = w.strip_prefix('`') {
            Arg::Str(q.trim_end_matches('`').to_string())
        } else if w == "." {
            Arg::Field(vec![])
        } else if let Some(f) = w.strip_prefix('.') {
            Arg::Field(f.split('.').map(String::from).collect())
        } else if let Ok(n) = w.parse::<f64>() {
            Arg::Num(n)
        } else if w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Arg::Func(w)
        } else {
            return err(format!("unexpected {w:?} in command"));
        };
        cmds.last_mut().expect("one command").push(arg);
    }
    if cmds.iter().any(Vec::is_empty) {
        return err("missing command in pipeline");
    }
    Ok(cmds)
}

fn unquote(q: &str) -> Result<String> {
    serde_json::from_str(&format!("\"{q}")).map_err(|_| TemplateError(format!("bad string \"{q}")))
}

fn tokenize(s: &str) -> Result<Vec<String>> {
    let mut out = vec![];
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '|' {
            chars.next();
            out.push("|".into());
        } else if c == '"' || c == '`' {
            let mut w = String::from(c);
            chars.next();
            let mut closed = false;
            while let Some(d) = chars.next() {
                w.push(d);
                if d == '\\' && c == '"' {
                    if let Some(e) = chars.next() {
                        w.push(e);
                    }
                } else if d == c {
                    closed = true;
                    break;
                }
            }
            if !closed {
                return err("unterminated quoted string");
            }
            out.push(w);
        } else {
            let mut w = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() || d == '|' {
                    break;
                }
                w.push(d);
                chars.next();
            }
            out.push(w);
        }
    }
    Ok(out)
}

fn field(data: &Value, path: &[String]) -> Result<Value> {
    let mut v = data;
    for k in path {
        v = match v {
            Value::Object(m) => m
                .get(k)
                .ok_or_else(|| TemplateError(format!("can't evaluate field {k}")))?,
            _ => return err(format!("can't evaluate field {k} in a {}", kind(v))),
        };
    }
    Ok(v.clone())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "slice",
        Value::Object(_) => "struct",
        Value::Null => "nil",
    }
}

fn value(a: &Arg, data: &Value) -> Result<Value> {
    match a {
        Arg::Field(p) => field(data, p),
        Arg::Str(s) => Ok(Value::String(s.clone())),
        Arg::Num(n) => Ok(serde_json::json!(n)),
        Arg::Func(f) => call(f, vec![]),
    }
}

fn run_command(cmd: &[Arg], data: &Value, piped: Option<Value>) -> Result<Value> {
    match &cmd[0] {
        Arg::Func(f) => {
            let mut args = cmd[1..]
                .iter()
                .map(|a| value(a, data))
                .collect::<Result<Vec<_>>>()?;
            args.extend(piped);
            call(f, args)
        }
        first if cmd.len() == 1 && piped.is_none() => value(first, data),
        _ => err("can't give arguments to a non-function"),
    }
}

fn text(v: &Value) -> String {
    print(v)
}

fn int(v: &Value) -> Result<usize> {
    v.as_f64()
        .filter(|n| *n >= 0.0)
        .map(|n| n as usize)
        .ok_or_else(|| TemplateError(format!("expected a number, got {v}")))
}

fn call(f: &str, args: Vec<Value>) -> Result<Value> {
    let want = |n: usize| -> Result<()> {
        if args.len() == n {
            Ok(())
        } else {
            err(format!(
                "wrong number of args for {f}: want {n} got {}",
                args.len()
            ))
        }
    };
    Ok(match f {
        "json" => {
            want(1)?;
            Value::String(serde_json::to_string(&args[0]).unwrap_or_default())
        }
        "upper" => {
            want(1)?;
            Value::String(text(&args[0]).to_uppercase())
        }
        "lower" => {
            want(1)?;
            Value::String(text(&args[0]).to_lowercase())
        }
        "title" => {
            want(1)?;
            let t = text(&args[0]);
            let mut out = String::new();
            let mut start = true;
            for c in t.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = !c.is_alphanumeric();
            }
            Value::String(out)
        }
        "split" => {
            want(2)?;
            let (s, sep) = (text(&args[0]), text(&args[1]));
            Value::Array(s.split(sep.as_str()).map(|p| p.into()).collect())
        }
        "join" => {
            want(2)?;
            let sep = text(&args[1]);
            match &args[0] {
                Value::Array(a) => Value::String(a.iter().map(text).collect::<Vec<_>>().join(&sep)),
                v => Value::String(text(v)),
            }
        }
        "pad" => {
            want(3)?;
            let (l, r) = (int(&args[1])?, int(&args[2])?);
            Value::String(format!(
                "{}{}{}",
                " ".repeat(l),
                text(&args[0]),
                " ".repeat(r)
            ))
        }
        "truncate" => {
            want(2)?;
            let n = int(&args[1])?;
            Value::String(text(&args[0]).chars().take(n).collect())
        }
        "println" => Value::String(format!(
            "{}\n",
            args.iter().map(text).collect::<Vec<_>>().join(" ")
        )),
        other => return err(format!("function {other:?} not defined")),
    })
}

/// How Go's template prints a value.
fn print(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".into(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => format!(
            "map[{}]",
            m.iter()
                .map(|(k, v)| format!("{k}:{}", print(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// Lays out tab-separated lines as docker's tabwriter does (minimum cell width
/// 10, padding 3, the last cell of a line not padded).
pub fn tabwrite(lines: &[String]) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            widths[i] = widths[i].max(c.chars().count() + 3).max(10);
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                out.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().execute(v).unwrap()
    }

    #[test]
    fn fields_functions_and_pipes() {
        let v = json!({"Name": "p-web-1", "Service": "web", "ExitCode": 0, "L": {"a": "b"}});
        assert_eq!(run("{{.Name}}", &v), "p-web-1");
        assert_eq!(run("{{.Name}}\\t{{.Service}}", &v), "p-web-1\tweb");
        assert_eq!(run("{{ .Service | upper }}", &v), "WEB");
        assert_eq!(run("{{upper .Service}}", &v), "WEB");
        assert_eq!(run("{{json .Service}}", &v), "\"web\"");
        assert_eq!(run("{{.ExitCode}}", &v), "0");
        assert_eq!(run("{{.L.a}}", &v), "b");
        assert_eq!(run("a {{- \" b\" -}} c", &v), "a bc");
        assert_eq!(run("{{truncate .Name 3}}", &v), "p-w");
        assert!(run("{{json .}}", &v).starts_with("{\"Name\""));
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(Template::parse("{{.Name").is_err());
        assert!(Template::parse("{{}}").is_err());
        let t = Template::parse("{{.Nope}}").unwrap();
        assert!(t.execute(&json!({"Name": "x"})).is_err());
        let t = Template::parse("{{nope .Name}}").unwrap();
        assert!(t.execute(&json!({"Name": "x"})).is_err());
    }

    #[test]
    fn tables_align_like_docker() {
        let out = tabwrite(&["NAME\tSTATUS".into(), "p-web-1\tUp".into()]);
        assert_eq!(out, "NAME      STATUS\np-web-1   Up\n");
    }
}
