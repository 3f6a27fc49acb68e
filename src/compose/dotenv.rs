//! `.env` files as compose-go's `dotenv` package (a godotenv fork) reads them:
//! `#` comments, `export`, `KEY=VAL` and `KEY: VAL`, bare `KEY` inherited from the
//! environment, unquoted values cut at ` #`, `'…'` literal (only `\'`), `"…"`
//! with escapes then `${}` expansion, multi-line quotes, a leading BOM.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::error::LoadError;
use super::interpolate::Interpolator;

/// Parses `.env` text. `${X}` and bare keys resolve through `lookup` first, then
/// the file's earlier lines. Errors carry `line N: `.
pub fn parse(
    src: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<IndexMap<String, String>, String> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let mut out: IndexMap<String, String> = IndexMap::new();
    let mut pos = 0;
    while let Some(start) = statement_start(src, pos) {
        pos = parse_statement(src, start, &mut out, lookup, warnings)?;
    }
    Ok(out)
}

/// Reads env files in order; later files win. `${X}` in a file resolves against
/// `os_env`, then earlier files, then earlier lines of the same file.
pub fn read_env_files(
    files: &[PathBuf],
    os_env: &IndexMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<IndexMap<String, String>, LoadError> {
    let mut env: IndexMap<String, String> = IndexMap::new();
    for file in files {
        let parsed = read_env_file(
            file,
            &|k| os_env.get(k).or_else(|| env.get(k)).cloned(),
            warnings,
        )?;
        env.extend(parsed);
    }
    Ok(env)
}

/// Reads one env file; a missing file or a directory is an error.
pub fn read_env_file(
    file: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<IndexMap<String, String>, LoadError> {
    let meta = std::fs::metadata(file).map_err(|_| LoadError::EnvFile {
        file: file.to_path_buf(),
        message: format!("couldn't find env file: {}", file.display()),
    })?;
    if meta.is_dir() {
        return Err(LoadError::EnvFile {
            file: file.to_path_buf(),
            message: format!("{} is a directory", file.display()),
        });
    }
    let bytes = std::fs::read(file).map_err(|e| LoadError::io(file, e))?;
    let text = String::from_utf8_lossy(&bytes);
    parse(&text, lookup, warnings).map_err(|message| LoadError::EnvFile {
        file: file.to_path_buf(),
        message,
    })
}

fn line_at(src: &str, pos: usize) -> usize {
    1 + src.as_bytes()[..pos.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// Not a line break, but space for the parser (compose-go's `isSpace`).
fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

fn statement_start(src: &str, mut pos: usize) -> Option<usize> {
    loop {
        let rest = &src[pos..];
        let off = rest.find(|c: char| !c.is_whitespace())?;
        pos += off;
        if !src[pos..].starts_with('#') {
            return Some(pos);
        }
        pos += src[pos..].find('\n')?;
    }
}

fn is_key_char(c: char) -> bool {
    matches!(c, '_' | '.' | '-' | '[' | ']') || c.is_alphanumeric()
}

fn parse_statement(
    src: &str,
    mut pos: usize,
    out: &mut IndexMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<usize, String> {
    let line = line_at(src, pos);
    if let Some(after) = src[pos..].strip_prefix("export") {
        if after.starts_with(|c: char| c.is_whitespace()) {
            pos += "export".len();
            pos += src[pos..].len() - src[pos..].trim_start_matches(is_space).len();
        }
    }
    // Find where the key ends: `=`, `:` or a line break (inherited key).
    let rest = &src[pos..];
    let mut key_end = None;
    for (i, c) in rest.char_indices() {
        if is_space(c) {
            continue;
        }
        match c {
            '=' | ':' | '\n' => {
                key_end = Some((i, c));
                break;
            }
            c if is_key_char(c) => {}
            c => {
                let first = rest.split('\n').next().unwrap_or_default();
                return Err(format!(
                    "line {line}: unexpected character {:?} in variable name {first:?}",
                    c.to_string()
                ));
            }
        }
    }
    let (key, inherited, value_start) = match key_end {
        Some((i, c)) => (&rest[..i], c == '\n', pos + i + 1),
        // A bare key on the last line, without a line break.
        None => (rest, true, src.len()),
    };
    let key = key.trim_end();
    if key.contains(' ') {
        return Err(format!("line {line}: key cannot contain a space"));
    }
    if inherited {
        if let Some(v) = lookup(key) {
            out.insert(key.to_string(), v);
        }
        return Ok(value_start);
    }
    let vpos = value_start
        + (src[value_start..].len() - src[value_start..].trim_start_matches(is_space).len());
    let vsrc = &src[vpos..];
    let (value, next) = match vsrc.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let Some((raw, consumed)) = quoted(vsrc, q) else {
                let first = vsrc.split('\n').next().unwrap_or_default();
                return Err(format!("line {line}: unterminated quoted value {first}"));
            };
            let v = if q == '"' {
                expand(&unescape(&raw), out, lookup, warnings)
                    .map_err(|e| format!("line {line}: {e}"))?
            } else {
                raw
            };
            (v, vpos + consumed)
        }
        _ => {
            let (v, next) = match vsrc.find('\n') {
                Some(nl) => (&vsrc[..nl], vpos + nl),
                None => (vsrc, src.len()),
            };
            let v = v.split(" #").next().unwrap_or_default().trim_end();
            (
                expand(v, out, lookup, warnings).map_err(|e| format!("line {line}: {e}"))?,
                next,
            )
        }
    };
    out.insert(key.to_string(), value);
    Ok(next)
}

/// The text between quotes (an escaped quote loses its backslash, other escapes
/// keep theirs) and how many bytes were consumed, closing quote included.
fn quoted(src: &str, quote: char) -> Option<(String, usize)> {
    let mut chars = String::new();
    let mut escaped = false;
    for (i, c) in src.char_indices().skip(1) {
        if escaped {
            escaped = false;
            if c != quote {
                chars.push('\\');
            }
            chars.push(c);
            continue;
        }
        match c {
            '\\' => escaped = true,
            c if c == quote => return Some((chars, i + c.len_utf8())),
            c => chars.push(c),
        }
    }
    None
}

/// Shell escapes of double-quoted values; `\$` becomes `$$` so that expansion
/// leaves a literal `$`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&(_, n)) = it.peek() else {
            out.push('\\');
            break;
        };
        let simple = match n {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '"' => Some('"'),
            '\\' => Some('\\'),
            _ => None,
        };
        if let Some(ch) = simple {
            out.push(ch);
            it.next();
        } else if n == '$' {
            out.push_str("$$");
            it.next();
        } else if n == '0' {
            // `\0` then up to three digits; Go reads exactly three octal digits.
            let digits: String = s[i + 2..]
                .chars()
                .take(3)
                .take_while(|d| d.is_ascii_digit())
                .collect();
            it.next();
            match (digits.len() == 3)
                .then(|| u32::from_str_radix(&digits, 8).ok())
                .flatten()
            {
                Some(code) if code <= 255 => {
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    for _ in 0..3 {
                        it.next();
                    }
                }
                _ => {
                    out.push_str("\\0");
                    out.push_str(&digits);
                    for _ in 0..digits.len() {
                        it.next();
                    }
                }
            }
        } else {
            out.push('\\');
        }
    }
    out
}

fn expand(
    value: &str,
    out: &IndexMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<String, String> {
    if !value.contains('$') {
        return Ok(value.to_string());
    }
    let f = |k: &str| lookup(k).or_else(|| out.get(k).cloned());
    let mut interp = Interpolator::new(&f);
    let r = interp.substitute(value).map_err(|e| e.to_string());
    for w in interp.warnings {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<IndexMap<String, String>, String> {
        parse(s, &|_| None, &mut Vec::new())
    }

    #[test]
    fn basics() {
        let m = p("A=1\nexport B=2\nC: 3\n# c\nD=\"x\\ny\" # comment\nE='a\\'b'\nF=a #c\nG=a#b\n")
            .unwrap();
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "2");
        assert_eq!(m["C"], "3");
        assert_eq!(m["D"], "x\ny");
        assert_eq!(m["E"], "a'b");
        assert_eq!(m["F"], "a");
        assert_eq!(m["G"], "a#b");
    }

    #[test]
    fn escapes_and_dollar() {
        let m = p("A=\"\\$HOME\"\nB=\"\\0101\"\nC='$X'\n").unwrap();
        assert_eq!(m["A"], "$HOME");
        assert_eq!(m["B"], "A");
        assert_eq!(m["C"], "$X");
    }

    #[test]
    fn errors_have_lines() {
        assert_eq!(
            p("A=1\n\nB C=2\n").unwrap_err(),
            "line 3: key cannot contain a space"
        );
        assert!(p("A=\"open\n")
            .unwrap_err()
            .starts_with("line 1: unterminated quoted value"));
        assert!(p("A$=1").unwrap_err().contains("unexpected character"));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "\\",
            "A=\"\\",
            "A=\"\\0",
            "export",
            "export\n",
            "=",
            ":",
            "\u{feff}",
            "A='",
            "é=\u{a0}\u{85}",
        ] {
            let _ = p(s);
        }
    }
}
