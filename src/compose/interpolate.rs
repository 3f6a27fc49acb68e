//! `${VAR}` interpolation as compose-go's `template` package does it: `$V`,
//! `${V}`, `${V:-d}`, `${V-d}`, `${V:?e}`, `${V?e}`, `${V:+r}`, `${V+r}`, `$$`,
//! nesting in the default/error/replacement part; values only, never keys.

use std::fmt;

use indexmap::IndexMap;
use serde_yaml_ng::Value;

use super::keypath::KeyPath;
use super::raw::VariableUse;

/// Why a template could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// Malformed `${…}`; holds the whole template.
    Invalid(String),
    /// `${V:?e}` / `${V?e}` with V missing.
    Missing {
        /// The variable.
        name: String,
        /// The evaluated error text after `?`.
        reason: String,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Invalid(t) => write!(f, "Invalid template: {t:?}"),
            TemplateError::Missing { name, reason } if reason.is_empty() => {
                write!(f, "required variable {name} is missing a value")
            }
            TemplateError::Missing { name, reason } => {
                write!(f, "required variable {name} is missing a value: {reason}")
            }
        }
    }
}

/// Evaluates templates against one environment, collecting warnings and the
/// variables referenced (for `config --variables`).
pub struct Interpolator<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Warnings in docker compose's words, each once.
    pub warnings: Vec<String>,
    /// Variables referenced at the top level of a value, by name.
    pub variables: IndexMap<String, VariableUse>,
}

impl<'a> Interpolator<'a> {
    /// An interpolator reading variables through `lookup`.
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Interpolator {
            lookup,
            warnings: Vec::new(),
            variables: IndexMap::new(),
        }
    }

    /// Substitutes every reference in `template`.
    pub fn substitute(&mut self, template: &str) -> Result<String, TemplateError> {
        if !template.contains('$') {
            return Ok(template.to_string());
        }
        self.sub(template, template, 0)
    }

    /// Interpolates every string value of `tree` in place; keys are left alone.
    pub fn interpolate_tree(&mut self, tree: &mut Value, path: &KeyPath) -> Result<(), String> {
        self.interpolate_at(tree, &mut path.clone())
    }

    /// Records the variables every string value of `tree` references, leaving
    /// the tree as it is: `config --variables` lists them without interpolating,
    /// so a `${X:?}` with X unset is listed, not an error.
    pub fn collect_variables(&mut self, tree: &Value) {
        match tree {
            Value::String(s) if s.contains('$') => {
                let _ = self.substitute(s);
            }
            Value::Sequence(seq) => seq.iter().for_each(|v| self.collect_variables(v)),
            Value::Mapping(map) => map.values().for_each(|v| self.collect_variables(v)),
            Value::Tagged(t) => self.collect_variables(&t.value),
            _ => {}
        }
    }

    /// [`Self::interpolate_tree`] with one path extended and shortened in place
    /// while walking, rather than a new path allocated per node.
    fn interpolate_at(&mut self, tree: &mut Value, path: &mut KeyPath) -> Result<(), String> {
        match tree {
            Value::String(s) if s.contains('$') => {
                *s = self.substitute(s).map_err(|e| path_error(path, &e))?;
            }
            Value::Sequence(seq) => {
                for (i, v) in seq.iter_mut().enumerate() {
                    path.push_index(i);
                    let r = self.interpolate_at(v, path);
                    path.pop();
                    r?;
                }
            }
            Value::Mapping(map) => {
                for (k, v) in map.iter_mut() {
                    path.push_key(k.as_str().unwrap_or_default());
                    let r = self.interpolate_at(v, path);
                    path.pop();
                    r?;
                }
            }
            Value::Tagged(t) => self.interpolate_at(&mut t.value, path)?,
            _ => {}
        }
        Ok(())
    }

    fn warn_unset(&mut self, name: &str) {
        let w = format!("The {name:?} variable is not set. Defaulting to a blank string.");
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    fn record(&mut self, depth: usize, name: &str, op: &str, arg: &str) {
        if depth > 0 {
            return;
        }
        let entry = self.variables.entry(name.to_string()).or_default();
        match op {
            ":?" | "?" => entry.required = true,
            ":-" | "-" => entry.default_value = Some(arg.to_string()),
            ":+" | "+" => entry.alternate_value = Some(arg.to_string()),
            _ => {}
        }
    }

    fn sub(&mut self, s: &str, whole: &str, depth: usize) -> Result<String, TemplateError> {
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while let Some(off) = s[i..].find('$') {
            let pos = i + off;
            out.push_str(&s[i..pos]);
            let Some(&c) = b.get(pos + 1) else {
                out.push('$');
                i = pos + 1;
                break;
            };
            if c == b'$' {
                out.push('$');
                i = pos + 2;
            } else if is_name_start(c) {
                let end = name_end(b, pos + 1);
                let name = &s[pos + 1..end];
                self.record(depth, name, "", "");
                match (self.lookup)(name) {
                    Some(v) => out.push_str(&v),
                    None => self.warn_unset(name),
                }
                i = end;
            } else if c == b'{' {
                let close = closing_brace(b, pos)
                    .or_else(|| s.rfind('}').filter(|&c| c > pos + 1))
                    .ok_or_else(|| TemplateError::Invalid(whole.to_string()))?;
                let content = &s[pos + 2..close];
                out.push_str(&self.braced(content, whole, depth)?);
                i = close + 1;
            } else {
                out.push('$');
                i = pos + 1;
            }
        }
        if i < s.len() {
            out.push_str(&s[i..]);
        }
        Ok(out)
    }

    fn braced(
        &mut self,
        content: &str,
        whole: &str,
        depth: usize,
    ) -> Result<String, TemplateError> {
        let b = content.as_bytes();
        if b.is_empty() || !is_name_start(b[0]) {
            return Err(TemplateError::Invalid(whole.to_string()));
        }
        let end = name_end(b, 0);
        let name = &content[..end];
        let rest = &content[end..];
        if rest.is_empty() {
            self.record(depth, name, "", "");
            return Ok(match (self.lookup)(name) {
                Some(v) => v,
                None => {
                    self.warn_unset(name);
                    String::new()
                }
            });
        }
        let op = match rest.as_bytes() {
            [b':', b'-' | b'+' | b'?', ..] => &rest[..2],
            [b'-' | b'+' | b'?', ..] => &rest[..1],
            _ => return Err(TemplateError::Invalid(whole.to_string())),
        };
        let arg = &rest[op.len()..];
        self.record(depth, name, op, arg);
        let value = (self.lookup)(name);
        let set = value.is_some();
        let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
        match op {
            ":-" | "-" => {
                let use_value = if op == ":-" { non_empty } else { set };
                if use_value {
                    Ok(value.unwrap_or_default())
                } else {
                    self.sub(arg, whole, depth + 1)
                }
            }
            ":+" | "+" => {
                let use_alt = if op == ":+" { non_empty } else { set };
                if use_alt {
                    self.sub(arg, whole, depth + 1)
                } else {
                    Ok(value.unwrap_or_default())
                }
            }
            _ => {
                let ok = if op == ":?" { non_empty } else { set };
                if ok {
                    Ok(value.unwrap_or_default())
                } else {
                    let reason = self.sub(arg, whole, depth + 1)?;
                    Err(TemplateError::Missing {
                        name: name.to_string(),
                        reason,
                    })
                }
            }
        }
    }
}

/// compose-go's wording for an interpolation error at a key path.
pub fn path_error(path: &KeyPath, e: &TemplateError) -> String {
    match e {
        TemplateError::Invalid(t) => format!(
            "invalid interpolation format for {path}.\nYou may need to escape any $ with another $.\n{t}"
        ),
        TemplateError::Missing { .. } => format!("error while interpolating {path}: {e}"),
    }
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn name_end(b: &[u8], start: usize) -> usize {
    let mut j = start;
    while j < b.len() && (b[j] == b'_' || b[j].is_ascii_alphanumeric()) {
        j += 1;
    }
    j
}

/// The index of the `}` closing the `${` at `dollar`, counted the way compose-go's
/// `getFirstBraceClosingIndex` counts (every `{` opens and skips one byte).
fn closing_brace(b: &[u8], dollar: usize) -> Option<usize> {
    let mut open = 0i32;
    let mut i = dollar;
    while i < b.len() {
        if b[i] == b'}' {
            open -= 1;
            if open == 0 {
                return Some(i);
            }
        }
        if b[i] == b'{' {
            open += 1;
            i += 1;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env() -> HashMap<String, String> {
        [("FOO", "first"), ("BAR", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(t: &str) -> (Result<String, TemplateError>, Vec<String>) {
        let e = env();
        let f = move |k: &str| e.get(k).cloned();
        let mut i = Interpolator::new(&f);
        let r = i.substitute(t);
        (r, i.warnings)
    }

    #[test]
    fn forms() {
        assert_eq!(run("$FOO-bar").0.unwrap(), "first-bar");
        assert_eq!(run("${BAR:-x}").0.unwrap(), "x");
        assert_eq!(run("${BAR-x}").0.unwrap(), "");
        assert_eq!(run("a$").0.unwrap(), "a$");
        assert_eq!(run("$$FOO").0.unwrap(), "$FOO");
        assert_eq!(run("^re$").0.unwrap(), "^re$");
    }

    #[test]
    fn unset_warns_once_and_untaken_branches_are_silent() {
        let (r, w) = run("${NOPE} $NOPE");
        assert_eq!(r.unwrap(), " ");
        assert_eq!(
            w,
            vec!["The \"NOPE\" variable is not set. Defaulting to a blank string."]
        );
        assert!(run("${A:+${A},}B").1.is_empty());
    }

    #[test]
    fn records_variables() {
        let f = |_: &str| None;
        let mut i = Interpolator::new(&f);
        let _ = i.substitute("${A:-d} ${C+r} $D ${B:?e}");
        assert_eq!(i.variables["A"].default_value.as_deref(), Some("d"));
        assert!(i.variables["B"].required);
        assert_eq!(i.variables["C"].alternate_value.as_deref(), Some("r"));
        assert!(i.variables.contains_key("D"));
    }
}
