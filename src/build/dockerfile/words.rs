//! Splitting an instruction line: keyword, `--flags`, and the argument
//! shapes BuildKit's `parser/line_parsers.go` gives each instruction
//! (JSON arrays, whitespace-separated words, shell-like words, a string).

use super::error::ErrorKind;

/// BuildKit's `[\t\v\f\r ]+` separator.
fn is_sep(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Splits on runs of `[\t\v\f\r ]` (no empty words unless `s` is empty
/// or starts/ends with a separator, as Go's `Regexp.Split`).
pub(crate) fn split_whitespace(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_sep(c) {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !is_sep(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            out.push(s[start..i].to_string());
            start = end;
        }
    }
    out.push(s[start..].to_string());
    out
}

/// An instruction keyword in lower case, without allocating (every keyword
/// fits in `buf`; a longer word is no keyword and comes back empty).
pub(crate) fn lower_keyword<'b>(keyword: &str, buf: &'b mut [u8; 12]) -> &'b str {
    let kw = keyword.as_bytes();
    if kw.len() > buf.len() || !kw.is_ascii() {
        return "";
    }
    buf[..kw.len()].copy_from_slice(kw);
    buf[..kw.len()].make_ascii_lowercase();
    std::str::from_utf8(&buf[..kw.len()]).unwrap_or("")
}

/// `keyword`, the `--flags` before the arguments, and the arguments (trimmed).
pub(crate) fn split_command(line: &str, escape: char) -> (&str, Vec<String>, &str) {
    let line = line.trim();
    let (cmd, rest) = match line.find(is_sep) {
        Some(i) => {
            let rest = line[i..].trim_start_matches(is_sep);
            (&line[..i], Some(rest))
        }
        None => (line, None),
    };
    let Some(rest) = rest else {
        return (cmd, Vec::new(), "");
    };
    let (args, flags) = extract_builder_flags(rest, escape);
    (cmd, flags, args.trim())
}

#[derive(PartialEq)]
enum Phase {
    Spaces,
    Word,
    Quote,
}

/// Leading words that start with `--` are flags (quotes and escapes in them
/// removed); `--` alone ends them. Returns the rest of the line and the flags.
fn extract_builder_flags(line: &str, escape: char) -> (&str, Vec<String>) {
    let mut words = Vec::new();
    // Most instructions have no flags: nothing to allocate then.
    if !line.trim_start().starts_with("--") {
        let start = line.len() - line.trim_start().len();
        return (&line[start..], words);
    }
    let mut phase = Phase::Spaces;
    let mut word = String::with_capacity(32);
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut it = line.char_indices().peekable();
    loop {
        let Some((pos, ch)) = it.next() else {
            if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            return ("", words);
        };
        if phase == Phase::Spaces {
            if ch.is_whitespace() {
                continue;
            }
            if ch != '-' || it.peek().map(|c| c.1) != Some('-') {
                return (&line[pos..], words);
            }
            phase = Phase::Word;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if word == "--" {
                    return (&line[pos..], words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                continue;
            }
            if ch == escape {
                // An escape at the very end is dropped.
                if let Some((_, next)) = it.next() {
                    word.push(next);
                }
                continue;
            }
            word.push(ch);
            continue;
        }
        // In quotes.
        if ch == quote {
            phase = Phase::Word;
            continue;
        }
        if ch == escape {
            match it.next() {
                Some((_, next)) => word.push(next),
                None => phase = Phase::Word,
            }
            continue;
        }
        word.push(ch);
    }
}

/// Shell-like words with quotes and escapes kept (ENV, LABEL, ARG): a
/// quote or escaped blank does not split. Each word is a slice of the text
/// (only an escape at the very end is dropped).
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut start = 0;
    // An escape with nothing after it is dropped from the last word.
    let mut trailing_escape = false;
    let mut it = rest.char_indices();
    let push = |words: &mut Vec<String>, from: usize, to: usize, blank_ok: bool| {
        if blank_ok || to > from {
            words.push(rest[from..to].to_string());
        }
    };
    loop {
        let Some((pos, ch)) = it.next() else {
            if phase != Phase::Spaces {
                let end = if trailing_escape {
                    rest.len() - escape.len_utf8()
                } else {
                    rest.len()
                };
                push(&mut words, start, end, blank_ok);
            }
            return words;
        };
        if phase == Phase::Spaces {
            if ch.is_whitespace() {
                continue;
            }
            phase = Phase::Word;
            start = pos;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                push(&mut words, start, pos, blank_ok);
                blank_ok = false;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape && it.next().is_none() {
                trailing_escape = true;
            }
            continue;
        }
        // In quotes.
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' && it.next().is_none() {
            phase = Phase::Word;
            trailing_escape = true;
        }
    }
}

/// A JSON array of strings: `Ok(Some(words))`; `Ok(None)` when the text is
/// not a JSON array (shell form then); an error for an array with other
/// things than strings.
pub(crate) fn parse_json(rest: &str) -> Result<Option<Vec<String>>, ErrorKind> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(ErrorKind::JsonNotStrings),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_then_arguments() {
        let s = |l: &str| {
            let (c, f, a) = split_command(l, '\\');
            (c.to_string(), f, a.to_string())
        };
        assert_eq!(
            s("COPY foo /tmp/"),
            ("COPY".into(), vec![], "foo /tmp/".into())
        );
        assert_eq!(
            s("COPY --user=me --doit=true foo /tmp/"),
            (
                "COPY".into(),
                vec!["--user=me".into(), "--doit=true".into()],
                "foo /tmp/".into()
            )
        );
        assert_eq!(s("COPY --doit=true -- foo /tmp/").1, ["--doit=true"]);
        assert_eq!(s("COPY --doit=true -- foo /tmp/").2, "foo /tmp/");
        assert_eq!(
            s("COPY -- foo /tmp/"),
            ("COPY".into(), vec![], "foo /tmp/".into())
        );
        assert_eq!(
            s("CMD --doit -- [ ]"),
            ("CMD".into(), vec!["--doit".into()], "[ ]".into())
        );
        assert_eq!(
            s("RUN --mount=\"type=cache,target=/a b\" x").1,
            ["--mount=type=cache,target=/a b"]
        );
        assert_eq!(s("RUN --a=\\\"x y").1, ["--a=\"x"]);
        assert_eq!(s("RUN -x y"), ("RUN".into(), vec![], "-x y".into()));
        assert_eq!(s("  run\t\tfoo  "), ("run".into(), vec![], "foo".into()));
        assert_eq!(s("RUN"), ("RUN".into(), vec![], "".into()));
        assert_eq!(
            s("RUN --flag"),
            ("RUN".into(), vec!["--flag".into()], "".into())
        );
        assert_eq!(s("RUN --é=ü x").1, ["--é=ü"]);
    }

    #[test]
    fn shell_like_words() {
        let w = |l: &str| parse_words(l, '\\');
        assert_eq!(w("name=value name2=value2"), ["name=value", "name2=value2"]);
        assert_eq!(w("name=\"value value1\""), ["name=\"value value1\""]);
        assert_eq!(w("name=value\\ value2"), ["name=value\\ value2"]);
        assert_eq!(w("name='a\\'b''"), ["name='a\\'b''"]);
        assert_eq!(w("name=\"a\\\"b\""), ["name=\"a\\\"b\""]);
        assert_eq!(w("a \"\""), ["a", "\"\""]);
        assert_eq!(w("a\\"), ["a"]);
        assert_eq!(w("a \"b\\"), ["a", "\"b"]);
        assert_eq!(w("x=\"a b\" y=\x27c\\\x27"), ["x=\"a b\"", "y='c\\'"]);
    }

    #[test]
    fn json_or_not() {
        assert_eq!(
            parse_json(r#" ["a", "b c"]"#).unwrap(),
            Some(vec!["a".into(), "b c".into()])
        );
        assert_eq!(parse_json("[]").unwrap(), Some(vec![]));
        assert_eq!(parse_json("['a']").unwrap(), None);
        assert_eq!(parse_json(r#"["a"] x"#).unwrap(), None);
        assert_eq!(parse_json(r#"["a""#).unwrap(), None);
        assert_eq!(parse_json("echo [1]").unwrap(), None);
        assert_eq!(parse_json("[1]"), Err(ErrorKind::JsonNotStrings));
    }

    #[test]
    fn whitespace() {
        assert_eq!(split_whitespace("a  b\tc"), ["a", "b", "c"]);
        assert_eq!(split_whitespace("a\n b"), ["a\n", "b"]);
    }
}
