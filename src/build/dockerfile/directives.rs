//! Parser directives: `# syntax=`, `# escape=`, `# check=` at the very top.
//!
//! As BuildKit's `parser/directives.go`: directives are read only until the
//! first line that is not one — an unknown `# foo=bar` or a plain comment
//! included; keys are case-insensitive, blanks around `=` allowed; a
//! repeated directive is an error.

use super::error::ErrorKind;

/// The directive keys BuildKit knows.
const KNOWN: [&str; 3] = ["syntax", "escape", "check"];

/// Reads directives line by line until the first line that is not one.
#[derive(Debug, Default)]
pub(crate) struct DirectiveParser {
    done: bool,
    seen: Vec<String>,
}

impl DirectiveParser {
    /// Looks at one line (newline and leading blanks removed): `Some((key,
    /// value))` for a directive, `None` once directives are over.
    pub(crate) fn parse_line(&mut self, line: &str) -> Result<Option<(String, String)>, ErrorKind> {
        if self.done {
            return Ok(None);
        }
        let Some((key, value)) = line.strip_prefix('#').and_then(split_directive) else {
            self.done = true;
            return Ok(None);
        };
        let key = key.to_ascii_lowercase();
        if !KNOWN.contains(&key.as_str()) {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&key) {
            return Err(ErrorKind::DuplicateDirective(key));
        }
        self.seen.push(key.clone());
        Ok(Some((key, value)))
    }
}

/// Go's regexp `\s`.
fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` after the `#` and leading
/// blanks, as BuildKit matches it.
fn split_directive(rest: &str) -> Option<(String, String)> {
    let rest = rest.trim_start();
    let key_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if key_len == 0 {
        return None;
    }
    let (key, after) = rest.split_at(key_len);
    let after = after.trim_start_matches(is_re_space).strip_prefix('=')?;
    let value = after
        .trim_start_matches(is_re_space)
        .trim_end_matches(is_re_space);
    if !value.is_empty() {
        return Some((key.to_string(), value.to_string()));
    }
    // Only blanks after `=`: the regex backtracks so that `.+?` takes the
    // last of them.
    let last = after.chars().next_back()?;
    Some((key.to_string(), last.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(lines: &[&str]) -> Result<Vec<(String, String)>, ErrorKind> {
        let mut p = DirectiveParser::default();
        let mut out = Vec::new();
        for l in lines {
            if let Some(d) = p.parse_line(l)? {
                out.push(d);
            }
        }
        Ok(out)
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn directives_as_buildkit_reads_them() {
        assert_eq!(all(&["# escape=`"]).unwrap(), [pair("escape", "`")]);
        assert_eq!(all(&["#ESCAPE = ` "]).unwrap(), [pair("escape", "`")]);
        assert_eq!(
            all(&[
                "# syntax=docker/dockerfile:1",
                "# check=skip=JSONArgsRecommended;error=true"
            ])
            .unwrap(),
            [
                pair("syntax", "docker/dockerfile:1"),
                pair("check", "skip=JSONArgsRecommended;error=true")
            ]
        );
        // An unknown directive ends the directives.
        assert_eq!(all(&["# foo=bar", "# escape=`"]).unwrap(), []);
        // So does a comment, or an instruction.
        assert_eq!(all(&["# hello", "# escape=`"]).unwrap(), []);
        assert_eq!(all(&["FROM x", "# escape=`"]).unwrap(), []);
        assert_eq!(all(&["# escape"]).unwrap(), []);
        assert_eq!(all(&["#"]).unwrap(), []);
        assert_eq!(all(&["# 1escape=x"]).unwrap(), []);
        assert_eq!(
            all(&["# escape=\\", "# escape=`"]),
            Err(ErrorKind::DuplicateDirective("escape".into()))
        );
        assert_eq!(all(&["# escape=  "]).unwrap(), [pair("escape", " ")]);
    }
}
