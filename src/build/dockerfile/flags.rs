//! `--flag[=value]` of one instruction, checked as BuildKit's
//! `instructions/bflag.go` does: every flag must be declared by the
//! instruction, booleans take `true`/`false` or nothing, strings need a
//! value, only list flags (`--mount`, `--exclude`) may repeat.

use super::error::ErrorKind;

/// The kinds of flag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--link`, `--link=false`.
    Bool,
    /// `--from=x`, once.
    String,
    /// `--mount=x`, repeatable.
    Strings,
}

/// One parsed flag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Bool(bool),
    String(String),
    Strings(Vec<String>),
}

/// The flags an instruction was given, checked against what it declares.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: Vec<(&'static str, Value)>,
}

impl Flags {
    /// Parses `args` (each `--name[=value]`) against `declared`.
    pub(crate) fn parse(
        args: &[String],
        declared: &[(&'static str, Kind)],
    ) -> Result<Flags, ErrorKind> {
        let mut flags = Flags::default();
        for a in args {
            if a == "--" {
                break;
            }
            let Some(body) = a.strip_prefix("--") else {
                return Err(ErrorKind::BadFlag(format!(
                    "arg should start with -- : {a}"
                )));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let flag_name = || format!("--{name}");
            let Some(&(key, kind)) = declared.iter().find(|(n, _)| *n == name) else {
                return Err(ErrorKind::UnknownFlag(unknown(
                    &flag_name(),
                    name,
                    declared,
                )));
            };
            let existing = flags.values.iter().position(|(n, _)| *n == key);
            if existing.is_some() && kind != Kind::Strings {
                return Err(ErrorKind::BadFlag(format!(
                    "duplicate flag specified: {}",
                    flag_name()
                )));
            }
            let missing =
                || ErrorKind::BadFlag(format!("missing a value on flag: {}", flag_name()));
            let v = match kind {
                Kind::Bool => match value.map(str::to_ascii_lowercase).as_deref() {
                    Some("") => return Err(missing()),
                    None | Some("true") => Value::Bool(true),
                    Some("false") => Value::Bool(false),
                    Some(_) => {
                        return Err(ErrorKind::BadFlag(format!(
                            "expecting boolean value for flag {}, not: {}",
                            flag_name(),
                            value.unwrap_or_default()
                        )))
                    }
                },
                Kind::String => Value::String(value.ok_or_else(missing)?.to_string()),
                Kind::Strings => {
                    let v = value.ok_or_else(missing)?.to_string();
                    if let Some(i) = existing {
                        if let Value::Strings(list) = &mut flags.values[i].1 {
                            list.push(v);
                        }
                        continue;
                    }
                    Value::Strings(vec![v])
                }
            };
            flags.values.push((key, v));
        }
        Ok(flags)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// A boolean flag; `None` when not given.
    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.values
            .iter_mut()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// A string flag, taken out; `None` when not given.
    pub(crate) fn string(&mut self, name: &str) -> Option<String> {
        match self.get_mut(name) {
            Some(Value::String(s)) => Some(std::mem::take(s)),
            _ => None,
        }
    }

    /// A repeatable flag's values in order, taken out.
    pub(crate) fn strings(&mut self, name: &str) -> Vec<String> {
        match self.get_mut(name) {
            Some(Value::Strings(v)) => std::mem::take(v),
            _ => Vec::new(),
        }
    }
}

/// `unknown flag: --form (did you mean from?)` when one is close.
fn unknown(flag_name: &str, name: &str, declared: &[(&'static str, Kind)]) -> String {
    let close = declared
        .iter()
        .map(|(n, _)| (levenshtein(name, n), *n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 3) && *d > 0)
        .min();
    match close {
        Some((_, n)) => format!("{flag_name} (did you mean {n}?)"),
        None => flag_name.to_string(),
    }
}

/// Edit distance, for suggestions.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECL: &[(&str, Kind)] = &[
        ("link", Kind::Bool),
        ("from", Kind::String),
        ("exclude", Kind::Strings),
    ];

    fn p(args: &[&str]) -> Result<Flags, ErrorKind> {
        let a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Flags::parse(&a, DECL)
    }

    fn err(args: &[&str]) -> String {
        p(args).unwrap_err().to_string()
    }

    #[test]
    fn values() {
        let mut f = p(&["--link", "--from=a", "--exclude=x", "--exclude=y"]).unwrap();
        assert_eq!(f.bool("link"), Some(true));
        assert_eq!(f.string("from").as_deref(), Some("a"));
        assert_eq!(f.strings("exclude"), ["x", "y"]);
        assert_eq!(p(&["--link=FALSE"]).unwrap().bool("link"), Some(false));
        assert_eq!(p(&["--from="]).unwrap().string("from").as_deref(), Some(""));
        assert_eq!(p(&[]).unwrap().bool("link"), None);
    }

    #[test]
    fn errors() {
        assert_eq!(
            err(&["--form=a"]),
            "unknown flag: --form (did you mean from?)"
        );
        assert_eq!(err(&["--bogus"]), "unknown flag: --bogus");
        assert_eq!(
            err(&["--from=a", "--from=b"]),
            "duplicate flag specified: --from"
        );
        assert_eq!(err(&["--from"]), "missing a value on flag: --from");
        assert_eq!(err(&["--link="]), "missing a value on flag: --link");
        assert_eq!(
            err(&["--link=yes"]),
            "expecting boolean value for flag --link, not: yes"
        );
        assert_eq!(err(&["-x"]), "arg should start with -- : -x");
    }
}
