//! The ARG/ENV values a step sees, and word expansion with them.
//!
//! ENV beats ARG of the same name; ARGs are those declared in the stage (or
//! imported with a bare `ARG X` from the global ones), with `--build-arg` values
//! over their defaults.

use indexmap::IndexMap;

/// Values in scope at one step.
pub struct Scope<'a> {
    /// `KEY=value` of the stage's ENV.
    pub env: &'a [String],
    /// Declared ARGs with their values.
    pub args: &'a IndexMap<String, String>,
}

impl Scope<'_> {
    /// The value of `name`: ENV first, then ARG.
    pub fn get(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find_map(|kv| {
                kv.split_once('=')
                    .filter(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
            .or_else(|| self.args.get(name).cloned())
    }

    /// Expands `$X`, `${X}` and the `${X:-w}` family in `word`.
    pub fn expand(&self, word: &str) -> Result<String, String> {
        expand(word, &|n| self.get(n))
    }
}

/// Expands a Dockerfile word: `$v ${v} ${v:-w} ${v-w} ${v:+w} ${v+w} ${v:?m} ${v?m}`,
/// quotes removed (nothing expands inside single quotes), the escape character
/// making the next character literal.
pub fn expand(word: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut in_single = false;
    let mut in_double = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' && !in_double {
            in_single = !in_single;
            i += 1;
            continue;
        }
        if c == '"' && !in_single {
            in_double = !in_double;
            i += 1;
            continue;
        }
        if c == '\\' && !in_single && i + 1 < chars.len() {
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c != '$' || in_single || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        if next == '{' {
            let mut depth = 1;
            let mut j = i + 2;
            while j < chars.len() {
                match chars[j] {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if j >= chars.len() {
                return Err(format!("missing '}}' in {word:?}"));
            }
            let inner: String = chars[i + 2..j].iter().collect();
            out.push_str(&brace(&inner, get, word)?);
            i = j + 1;
        } else if next.is_ascii_alphanumeric() || next == '_' {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let name: String = chars[i + 1..j].iter().collect();
            out.push_str(&get(&name).unwrap_or_default());
            i = j;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

fn brace(inner: &str, get: &dyn Fn(&str) -> Option<String>, word: &str) -> Result<String, String> {
    let name_end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let name = &inner[..name_end];
    if name.is_empty() {
        return Err(format!("bad substitution in {word:?}"));
    }
    let rest = &inner[name_end..];
    let val = get(name);
    let sub = |w: &str| expand(w, get);
    Ok(match rest {
        "" => val.unwrap_or_default(),
        r if r.starts_with(":-") => match val.filter(|v| !v.is_empty()) {
            Some(v) => v,
            None => sub(&r[2..])?,
        },
        r if r.starts_with('-') => match val {
            Some(v) => v,
            None => sub(&r[1..])?,
        },
        r if r.starts_with(":+") => match val.filter(|v| !v.is_empty()) {
            Some(_) => sub(&r[2..])?,
            None => String::new(),
        },
        r if r.starts_with('+') => match val {
            Some(_) => sub(&r[1..])?,
            None => String::new(),
        },
        r if r.starts_with(":?") || r.starts_with('?') => {
            let msg = r.trim_start_matches(':').trim_start_matches('?');
            match val.filter(|v| !v.is_empty() || !r.starts_with(':')) {
                Some(v) => v,
                None => return Err(format!("{name}: {}", sub(msg)?)),
            }
        }
        _ => {
            return Err(format!(
                "unsupported modifier ({rest}) in substitution {word:?}"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_the_reference_forms() {
        let get = |n: &str| match n {
            "a" => Some("x".to_string()),
            "e" => Some(String::new()),
            _ => None,
        };
        assert_eq!(expand("$a/${a}", &get).unwrap(), "x/x");
        assert_eq!(expand("${b:-d}${e:-d}${e-d}", &get).unwrap(), "dd");
        assert_eq!(expand("${a:+y}${b:+y}", &get).unwrap(), "y");
        assert_eq!(expand("'$a'", &get).unwrap(), "$a");
        assert_eq!(expand("\\$a", &get).unwrap(), "$a");
        assert_eq!(expand("\"$a b\"", &get).unwrap(), "x b");
        assert!(expand("${b:?need b}", &get).is_err());
    }
}
