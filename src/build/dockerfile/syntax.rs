//! From text to a list of instruction nodes (keyword, flags, argument
//! words), as BuildKit's `parser.Parse` does: directives, comments,
//! continuations, heredoc bodies, and each instruction's argument shape.
//! Nothing here knows what a flag means; [`super::instructions`] does.

use super::ast::{Directives, Heredoc, Warning};
use super::directives::DirectiveParser;
use super::error::ErrorKind;
use super::heredoc::heredocs_from_line;
use super::lines::{
    is_comment, is_empty_continuation_line, split_lines, trim_continuation, trim_newline,
};
use super::words::{lower_keyword, parse_json, parse_words, split_command, split_whitespace};

/// BuildKit reads lines with a 64 KiB scanner buffer; longer ones fail.
pub(crate) const MAX_LINE: usize = 64 * 1024 - 1;

/// One instruction as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Node {
    /// The keyword as written (`run`, `RUN`).
    pub keyword: String,
    /// The `--flags` before the arguments, quotes removed.
    pub flags: Vec<String>,
    /// The argument words in the instruction's shape (ENV and LABEL:
    /// key, value, `=` or `""` triples).
    pub args: Vec<String>,
    /// The arguments were a JSON array.
    pub json: bool,
    /// Heredocs with their bodies.
    pub heredocs: Vec<Heredoc>,
    /// The logical line (continuations joined).
    pub original: String,
    /// 1-based first and last line.
    pub line: usize,
    /// Last line, heredoc bodies included.
    pub end_line: usize,
    /// Comments right above.
    pub comments: Vec<String>,
    /// ONBUILD's trigger.
    pub child: Option<Box<Node>>,
}

/// The nodes of a file, its directives and warnings.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub directives: Directives,
    pub nodes: Vec<Node>,
    pub warnings: Vec<Warning>,
}

/// An error with the 1-based line it belongs to.
pub(crate) type LineError = (usize, ErrorKind);

/// Reads the whole file into nodes.
pub(crate) fn parse_nodes(text: &str) -> Result<Parsed, LineError> {
    let mut out = Parsed::default();
    let mut dp = DirectiveParser::default();
    let mut escape;
    let mut lines = split_lines(text);
    let mut current = 0usize;
    let mut comments: Vec<String> = Vec::new();

    while let Some(mut raw) = lines.next() {
        if current == 0 {
            raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        }
        if raw.len() > MAX_LINE {
            return Err((
                current + 1,
                ErrorKind::Arguments(format!(
                    "dockerfile line greater than max allowed size of {MAX_LINE}"
                )),
            ));
        }
        if is_comment(raw) {
            // BuildKit drops the first byte, not the `#`: same for `#` in
            // column 1, and a leading blank keeps the `#` in the text.
            let c = raw.get(1..).unwrap_or("").trim();
            if c.is_empty() {
                comments.clear();
            } else {
                comments.push(c.to_string());
            }
        }
        let (token, was_directive) =
            process_line(&mut dp, raw, true, current + 1, &mut out.directives)?;
        escape = out.directives.escape;
        if was_directive {
            comments.pop();
        }
        current += 1;
        let start = current;
        let (first, mut ended) = trim_continuation(token, escape);
        if ended && first.is_empty() {
            continue;
        }
        let mut line = first.to_string();
        let mut empty_continuation = false;
        while !ended {
            let Some(next) = lines.next() else { break };
            if next.len() > MAX_LINE {
                return Err((
                    current + 1,
                    ErrorKind::Arguments(format!(
                        "dockerfile line greater than max allowed size of {MAX_LINE}"
                    )),
                ));
            }
            let (token, _) = process_line(&mut dp, next, false, current + 1, &mut out.directives)?;
            escape = out.directives.escape;
            current += 1;
            if is_comment(next) {
                continue;
            }
            if is_empty_continuation_line(token) {
                empty_continuation = true;
                continue;
            }
            let (part, e) = trim_continuation(token, escape);
            line.push_str(part);
            ended = e;
        }
        if empty_continuation {
            out.warnings.push(Warning {
                line: current,
                message: format!(
                    "Empty continuation line found in: {line} (empty continuation lines will become errors in a future release)"
                ),
            });
        }
        let mut node = node_from_line(line, escape).map_err(|e| (start, e))?;
        node.comments = std::mem::take(&mut comments);
        if can_contain_heredoc(&node) && node.original.contains("<<") {
            let docs = heredocs_from_line(&node.original).map_err(|e| (start, e.into()))?;
            for mut doc in docs {
                let mut terminated = false;
                let mut content = String::new();
                for body in lines.by_ref() {
                    current += 1;
                    let mut candidate = trim_newline(body);
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    content.push_str(body);
                }
                if !terminated {
                    return Err((start, ErrorKind::UnterminatedHeredoc(doc.name)));
                }
                doc.content = content;
                node.heredocs.push(doc);
            }
        }
        node.line = start;
        node.end_line = current;
        out.nodes.push(node);
    }
    if out.nodes.is_empty() {
        return Err((current, ErrorKind::NoInstructions));
    }
    Ok(out)
}

/// What BuildKit's `processLine` does: newline off, maybe leading blanks
/// off, directives noticed, comment lines emptied. Returns the text and
/// whether the line was a directive.
fn process_line<'a>(
    dp: &mut DirectiveParser,
    raw: &'a str,
    strip: bool,
    line_no: usize,
    directives: &mut Directives,
) -> Result<(&'a str, bool), LineError> {
    let mut token = trim_newline(raw);
    if strip {
        token = token.trim_start();
    }
    let directive = dp.parse_line(token).map_err(|e| (line_no, e))?;
    if let Some((key, value)) = &directive {
        match key.as_str() {
            "escape" => {
                if value != "`" && value != "\\" {
                    return Err((line_no, ErrorKind::InvalidEscape(value.clone())));
                }
                directives.escape = value.chars().next().unwrap_or('\\');
            }
            "syntax" => directives.syntax = Some(value.clone()),
            _ => directives.check = Some(value.clone()),
        }
    }
    let token = if is_comment(token) { "" } else { token };
    Ok((token, directive.is_some()))
}

/// RUN, COPY, ADD (also as ONBUILD triggers) in shell form may have heredocs.
fn can_contain_heredoc(node: &Node) -> bool {
    let n = match (&node.child, node.keyword.eq_ignore_ascii_case("onbuild")) {
        (Some(child), true) => child,
        _ => node,
    };
    ["add", "copy", "run"]
        .iter()
        .any(|k| n.keyword.eq_ignore_ascii_case(k))
        && !n.json
}

/// Splits one logical line into a node (BuildKit's `newNodeFromLine`).
pub(crate) fn node_from_line(line: String, escape: char) -> Result<Node, ErrorKind> {
    let (keyword, flags, rest) = split_command(&line, escape);
    let mut node = Node {
        keyword: keyword.to_string(),
        flags,
        ..Node::default()
    };
    let mut buf = [0u8; 12];
    match lower_keyword(keyword, &mut buf) {
        "add" | "copy" | "volume" => match parse_json(rest)? {
            Some(words) => (node.args, node.json) = (words, true),
            None if rest.is_empty() => {}
            None => node.args = split_whitespace(rest),
        },
        "arg" => node.args = parse_words(rest, escape),
        "cmd" | "entrypoint" | "run" | "shell" => (node.args, node.json) = maybe_json(rest)?,
        "env" => node.args = name_val(rest, "ENV", escape)?,
        "label" => node.args = name_val(rest, "LABEL", escape)?,
        "expose" | "from" if !rest.is_empty() => node.args = split_whitespace(rest),
        "healthcheck" => {
            let typ_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
            if typ_len > 0 {
                let (typ, cmd) = rest.split_at(typ_len);
                let (args, json) = maybe_json(cmd.trim_start())?;
                node.args = std::iter::once(typ.to_string()).chain(args).collect();
                node.json = json;
            }
        }
        "maintainer" | "stopsignal" | "user" | "workdir" if !rest.is_empty() => {
            node.args = vec![rest.to_string()]
        }
        "onbuild" if !rest.is_empty() => {
            let child = node_from_line(rest.to_string(), escape)?;
            node.args = std::iter::once(child.keyword.clone())
                .chain(child.args.iter().cloned())
                .collect();
            node.child = Some(Box::new(child));
        }
        _ => {}
    }
    node.original = line;
    Ok(node)
}

/// JSON array or the whole text as one word.
fn maybe_json(rest: &str) -> Result<(Vec<String>, bool), ErrorKind> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    Ok(match parse_json(rest)? {
        Some(words) => (words, true),
        None => (vec![rest.to_string()], false),
    })
}

/// ENV/LABEL: `k=v ...` or the legacy `k v` (the rest of the line is the value).
fn name_val(rest: &str, key: &str, escape: char) -> Result<Vec<String>, ErrorKind> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let mut parts = split_whitespace(rest).into_iter();
        let k = parts.next().unwrap_or_default();
        let v: Vec<String> = parts.collect();
        if v.is_empty() {
            return Err(ErrorKind::Arguments(format!(
                "{key} must have two arguments"
            )));
        }
        // Split with a limit of two: the value is everything after the
        // first run of blanks.
        let value = rest[k.len()..].trim_start_matches(['\t', '\x0b', '\x0c', '\r', ' ']);
        return Ok(vec![k, value.to_string(), String::new()]);
    }
    let mut out = Vec::with_capacity(words.len() * 3);
    for mut key in words {
        let Some(eq) = key.find('=') else {
            return Err(ErrorKind::Arguments(format!(
                "Syntax error - can't find = in {key:?}. Must be of the form: name=value"
            )));
        };
        let value = key[eq + 1..].to_string();
        key.truncate(eq);
        out.extend([key, value, "=".to_string()]);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod dump {
    //! BuildKit's `Node.Dump` format, to compare with its parser test files.
    use super::Node;

    pub(crate) fn go_quote(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\x07' => out.push_str("\\a"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                '\x0b' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    pub(crate) fn dump(n: &Node) -> String {
        let mut s = n.keyword.to_lowercase();
        if !n.flags.is_empty() {
            let f: Vec<String> = n.flags.iter().map(|f| go_quote(f)).collect();
            s.push_str(&format!(" [{}]", f.join(" ")));
        }
        if let Some(child) = &n.child {
            s.push_str(&format!(" ({})", dump(child)));
            return s;
        }
        for a in &n.args {
            s.push(' ');
            s.push_str(&go_quote(a));
        }
        s.trim().to_string()
    }
}
