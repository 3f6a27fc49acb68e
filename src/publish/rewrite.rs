//! Rewriting one value of a compose file in place, keeping everything else as
//! the user wrote it (docker compose's `transform.ReplaceExtendsFile` and
//! `ReplaceEnvFile`): the published file names its `extends` parents and env
//! files by opaque `<sha256>.yaml` / `<sha256>.env` names, never by local path.
//!
//! Values are found by indentation in block-style YAML, which is what compose
//! files are; a value written in flow style (`{file: x}`) is reported as not found.

/// One step of a path into the document.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// A mapping key.
    Key(&'a str),
    /// The n-th item of a sequence.
    Index(usize),
}

/// Where a node starts: line index and byte column.
type Pos = (usize, usize);

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// A document marker (`---`, `...`): the first document ends there.
fn is_doc_marker(line: &str) -> bool {
    let l = line.trim_end();
    l == "---" || l == "..." || line.starts_with("--- ")
}

fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

fn key_of(text: &str) -> Option<(&str, &str)> {
    // `key: rest`, `"key": rest`, `'key': rest`
    let (key, rest) = if let Some(q) = text.strip_prefix('"').or_else(|| text.strip_prefix('\'')) {
        let quote = &text[..1];
        let end = q.find(quote)?;
        (&q[..end], q[end + 1..].strip_prefix(':')?)
    } else {
        let at = text.find(':')?;
        let rest = &text[at + 1..];
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        (text[..at].trim_end(), rest)
    };
    Some((key, rest))
}

/// The lines of the block below a node, those indented deeper than
/// `parent_indent` (or, below a key, a sequence at the key's own indentation),
/// until the block ends.
fn block_lines(lines: &[&str], from: usize, parent_indent: usize, below_key: bool) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(from) {
        if is_blank(line) {
            continue;
        }
        if is_doc_marker(line) {
            break;
        }
        let indent = indent_of(line);
        let same_level_item =
            below_key && indent == parent_indent && line[indent..].starts_with('-');
        if indent <= parent_indent && !same_level_item {
            break;
        }
        out.push(i);
    }
    out
}

/// Finds the start of the value at `path` in the first document of `text`.
fn locate(text: &str, path: &[Step<'_>]) -> Option<Pos> {
    let lines: Vec<&str> = text.split('\n').collect();
    // The root mapping: its keys sit at the first line's indentation.
    let first = lines
        .iter()
        .position(|l| !is_blank(l) && !is_doc_marker(l))?;
    let base = indent_of(lines[first]);
    let mut children: Vec<usize> = lines
        .iter()
        .enumerate()
        .skip(first)
        .take_while(|(_, l)| !is_doc_marker(l))
        .filter(|(_, l)| !is_blank(l) && indent_of(l) >= base)
        .map(|(i, _)| i)
        .collect();
    let mut inline: Option<Pos> = Some((first, base));
    for step in path {
        // A node's content: what follows on its own line (`inline`), then the
        // deeper lines (`children`).
        let min_indent = children
            .iter()
            .map(|&i| indent_of(lines[i]))
            .chain(inline.map(|(_, c)| c))
            .min()?;
        let mut items: Vec<Pos> = inline.into_iter().collect();
        items.extend(
            children
                .iter()
                .filter(|&&i| indent_of(lines[i]) == min_indent)
                .map(|&i| (i, min_indent)),
        );
        items.dedup();
        let found = match *step {
            Step::Key(k) => items
                .into_iter()
                .find(|&(l, c)| key_of(&lines[l][c..]).is_some_and(|(key, _)| key == k))?,
            Step::Index(n) => {
                let (l, c) = items
                    .into_iter()
                    .filter(|&(l, c)| lines[l][c..].starts_with("- ") || &lines[l][c..] == "-")
                    .nth(n)?;
                let after = &lines[l][c + 1..];
                let skip = after.len() - after.trim_start().len();
                // The item's value starts after `- `; its own children are the
                // lines below it that are deeper than the dash.
                let value_col = c + 1 + skip;
                children = block_lines(&lines, l + 1, c, false);
                inline = (value_col < lines[l].len()).then_some((l, value_col));
                continue;
            }
        };
        let (l, c) = found;
        let (_, rest) = key_of(&lines[l][c..])?;
        let skip = rest.len() - rest.trim_start().len();
        let value_col = lines[l].len() - rest.len() + skip;
        children = block_lines(&lines, l + 1, c, true);
        let has_inline = value_col < lines[l].len() && !rest.trim_start().starts_with('#');
        inline = has_inline.then_some((l, value_col));
    }
    // The value: inline on the node's line, else a scalar on the next line.
    inline.or_else(|| children.first().map(|&i| (i, indent_of(lines[i]))))
}

/// Replaces the value at `path` (to the end of its line) with `value`.
/// `None` when the value is not written in block style.
pub fn replace(text: &str, path: &[Step<'_>], value: &str) -> Option<String> {
    let (line, col) = locate(text, path)?;
    let mut out = String::with_capacity(text.len() + value.len());
    for (i, l) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if i == line {
            out.push_str(&l[..col]);
            out.push_str(value);
        } else {
            out.push_str(l);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_extends_file_keeping_the_rest() {
        let text = "services:\n  web:\n    image: x # keep\n    extends:\n      file: ../common.yaml # old\n      service: base\n  other:\n    image: y\n";
        let out = replace(
            text,
            &[
                Step::Key("services"),
                Step::Key("web"),
                Step::Key("extends"),
                Step::Key("file"),
            ],
            "abc.yaml",
        )
        .unwrap();
        assert_eq!(out, "services:\n  web:\n    image: x # keep\n    extends:\n      file: abc.yaml\n      service: base\n  other:\n    image: y\n");
    }

    #[test]
    fn replaces_env_files_in_each_syntax() {
        let key = |svc| [Step::Key("services"), Step::Key(svc), Step::Key("env_file")];
        let t = "services:\n  a:\n    env_file: a.env\n";
        assert_eq!(
            replace(t, &key("a"), "h.env").unwrap(),
            "services:\n  a:\n    env_file: h.env\n"
        );
        let t = "services:\n  a:\n    env_file:\n      - one.env\n      - \"two.env\"\n  b:\n    image: x\n";
        let mut p = key("a").to_vec();
        p.push(Step::Index(1));
        assert_eq!(
            replace(t, &p, "h.env").unwrap(),
            "services:\n  a:\n    env_file:\n      - one.env\n      - h.env\n  b:\n    image: x\n"
        );
        let t = "services:\n  a:\n    env_file:\n    - path: one.env\n      required: false\n    - required: true\n      path: two.env\n";
        let mut p = key("a").to_vec();
        p.extend([Step::Index(1), Step::Key("path")]);
        assert_eq!(
            replace(t, &p, "h.env").unwrap(),
            "services:\n  a:\n    env_file:\n    - path: one.env\n      required: false\n    - required: true\n      path: h.env\n"
        );
        let mut p = key("a").to_vec();
        p.extend([Step::Index(0), Step::Key("path")]);
        assert_eq!(
            replace(t, &p, "h.env").unwrap(),
            "services:\n  a:\n    env_file:\n    - path: h.env\n      required: false\n    - required: true\n      path: two.env\n"
        );
    }

    #[test]
    fn flow_style_is_not_found() {
        let t = "services:\n  a:\n    extends: {file: x.yaml, service: b}\n";
        let p = [
            Step::Key("services"),
            Step::Key("a"),
            Step::Key("extends"),
            Step::Key("file"),
        ];
        assert!(replace(t, &p, "h.yaml").is_none());
    }
}
