//! How deep a file's flow collections (`[`, `{`) nest, found by one cheap pass
//! before the YAML parser sees the text.
//!
//! The parser (libyaml's scanner, under serde_yaml_ng) keeps a "possible simple
//! key" per flow level and walks all of them for every token, so `[[[[…` costs
//! time quadratic in the depth: 100 000 levels (200 KB) took 18.7 s before it
//! reported its own recursion limit (yaml/yaml-serde#1). Its deserializer never
//! accepts more than 128 levels anyway, so stopping deeper flow nesting here
//! rejects nothing the parser would load.
//!
//! Block nesting (indentation) costs the parser linear time and is left to it.
//! The scan knows enough YAML not to take text for brackets: quoted scalars,
//! comments, block scalars (`|`, `>`) and plain scalars (`a[b`) are skipped.

/// The deepest flow nesting let through to the parser: serde_yaml_ng's own
/// recursion limit, which no deeper file can pass.
pub const MAX_DEPTH: usize = 128;

/// Where the nesting went past the limit (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    /// The line of the bracket that went too deep.
    pub line: usize,
    /// Its column.
    pub column: usize,
}

/// Fails at the first `[` or `{` that opens more than `limit` flow levels.
pub fn check(content: &str, limit: usize) -> Result<(), TooDeep> {
    Scan {
        b: content.as_bytes(),
        i: 0,
        line: 1,
        line_start: 0,
    }
    .run(limit)
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    line_start: usize,
}

fn blank(c: Option<&u8>) -> bool {
    matches!(c, None | Some(b' ' | b'\t' | b'\r' | b'\n'))
}

impl Scan<'_> {
    fn at(&self, i: usize) -> Option<&u8> {
        self.b.get(i)
    }

    fn col(&self) -> usize {
        self.i - self.line_start
    }

    fn newline(&mut self) {
        self.i += 1;
        self.line += 1;
        self.line_start = self.i;
    }

    /// `---` or `...` at the start of a line: a document boundary, which ends
    /// any flow collection left open.
    fn doc_marker(&self) -> bool {
        self.i == self.line_start
            && (self.b[self.i..].starts_with(b"---") || self.b[self.i..].starts_with(b"..."))
            && blank(self.at(self.i + 3))
    }

    fn skip_line(&mut self) {
        while self.at(self.i).is_some_and(|&c| c != b'\n') {
            self.i += 1;
        }
    }

    /// Past a quoted scalar starting at the quote (it may span lines).
    fn skip_quoted(&mut self) {
        let q = self.b[self.i];
        self.i += 1;
        while let Some(&c) = self.at(self.i) {
            match c {
                b'\n' => {
                    self.newline();
                    continue;
                }
                b'\\' if q == b'"' => self.i += 1,
                b'\'' if q == b'\'' && self.at(self.i + 1) == Some(&b'\'') => self.i += 1,
                c if c == q => {
                    self.i += 1;
                    return;
                }
                _ => {}
            }
            self.i += 1;
        }
    }

    /// Past an anchor, tag or alias: up to whitespace (or a flow indicator).
    fn skip_word(&mut self, flow: bool) {
        while let Some(&c) = self.at(self.i) {
            if blank(Some(&c)) || (flow && matches!(c, b',' | b'[' | b']' | b'{' | b'}')) {
                break;
            }
            self.i += 1;
        }
    }

    /// Past a block scalar's header and content: after the first non-blank line
    /// more indented than `parent`, every line at least as indented (or blank).
    fn skip_block_scalar(&mut self, parent: isize) {
        self.skip_line();
        let mut content: Option<usize> = None;
        while self.at(self.i) == Some(&b'\n') {
            let next = self.i + 1;
            let mut j = next;
            while self.at(j) == Some(&b' ') {
                j += 1;
            }
            let indent = j - next;
            let empty = matches!(self.at(j), None | Some(b'\n'))
                || (self.at(j) == Some(&b'\r') && matches!(self.at(j + 1), None | Some(b'\n')));
            self.newline();
            if !empty {
                let inside = match content {
                    None if indent as isize > parent && !self.doc_marker() => {
                        content = Some(indent);
                        true
                    }
                    Some(ci) => indent >= ci,
                    None => false,
                };
                if !inside {
                    return;
                }
            }
            self.skip_line();
        }
    }

    fn run(mut self, limit: usize) -> Result<(), TooDeep> {
        let mut flow = 0usize;
        // A node (scalar, collection, block scalar) may begin here.
        let mut start = true;
        // Block context: the column of the key or `-` the next value belongs to.
        let mut parent: isize = -1;
        // Block context: the column where the current node began.
        let mut token: isize = 0;
        while let Some(&c) = self.at(self.i) {
            if self.i == self.line_start {
                if self.doc_marker() {
                    flow = 0;
                    start = true;
                    parent = -1;
                    self.i += 3;
                    continue;
                }
                if flow == 0 {
                    if c == b'%' {
                        self.skip_line();
                        continue;
                    }
                    start = true;
                }
            }
            let col = self.col() as isize;
            let next = self.at(self.i + 1);
            match c {
                b'\n' => {
                    self.newline();
                    continue;
                }
                b' ' | b'\t' | b'\r' => {}
                b'#' if self.i == self.line_start || blank(self.at(self.i - 1)) => {
                    self.skip_line();
                    continue;
                }
                b'"' | b'\'' if start => {
                    token = col;
                    start = false;
                    self.skip_quoted();
                    continue;
                }
                b'[' | b'{' if flow > 0 || start => {
                    flow += 1;
                    if flow > limit {
                        return Err(TooDeep {
                            line: self.line,
                            column: col as usize + 1,
                        });
                    }
                    if flow == 1 {
                        token = col;
                    }
                    start = true;
                }
                b']' | b'}' if flow > 0 => {
                    flow -= 1;
                    start = false;
                }
                b',' if flow > 0 => start = true,
                b':' if blank(next)
                    || (flow > 0
                        && (matches!(next, Some(b',' | b'[' | b']' | b'{' | b'}'))
                            || matches!(self.b[self.i - 1], b'"' | b'\''))) =>
                {
                    if flow == 0 {
                        parent = token;
                    }
                    start = true;
                }
                b'-' | b'?' if start && blank(next) => {
                    if flow == 0 {
                        parent = col;
                    }
                }
                b'|' | b'>' if flow == 0 && start => {
                    self.skip_block_scalar(parent);
                    continue;
                }
                b'!' | b'&' if start => {
                    self.skip_word(flow > 0);
                    continue;
                }
                b'*' if start => {
                    start = false;
                    self.skip_word(flow > 0);
                    continue;
                }
                _ => {
                    if start {
                        token = col;
                    }
                    start = false;
                }
            }
            self.i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(s: &str) -> bool {
        check(s, 3).is_ok()
    }

    #[test]
    fn counts_flow_brackets() {
        assert!(depth_ok("a: [[[x]]]\n"));
        assert!(!depth_ok("a: [[[[x]]]]\n"));
        assert!(!depth_ok("a: {b: [c, {d: [e]}]}\n"));
        assert_eq!(
            check("a: 1\nb: [[\n  [[x]]]]\n", 3),
            Err(TooDeep { line: 3, column: 4 })
        );
        // Siblings do not add up.
        assert!(depth_ok("a: [[[x]], [[y]], {b: {c: d}}]\n"));
    }

    #[test]
    fn text_is_not_structure() {
        let texts = [
            "a: '[[[[[['\n",
            "a: \"[[[[[[\\\" [[[\"\n",
            "a: 'it''s [[[[['\n",
            "a: x[[[[[[\n",
            "a: http://x/[[[[[[\n",
            "a: b # [[[[[[\n",
            "# [[[[[[\na: b\n",
            "a: |\n  [[[[[[\n  {{{{{{\nb: c\n",
            "- key: >-\n    [[[[[[\n\n    [[[[\n- x\n",
            "a: !!str [[[x]]]\n",
            "a: &anchor [[[x]]]\nb: *anchor\n",
            "a: [\"[[[[[\", '{{{{{', x]\n",
            "a: \"multi\n  line [[[[[[\"\n",
            "%YAML 1.2\n---\na: [[[x]]]\n",
        ];
        for t in texts {
            assert!(depth_ok(t), "{t:?} was taken for deep nesting");
        }
    }

    #[test]
    fn a_block_scalar_ends_where_its_indentation_does() {
        assert!(!depth_ok("a: |\n  text\nb: [[[[x]]]]\n"));
        assert!(!depth_ok("- a: |\n    text\n  b: [[[[x]]]]\n"));
        // An empty block scalar: the next key is structure again.
        assert!(!depth_ok("a: |\nb: [[[[x]]]]\n"));
    }

    #[test]
    fn documents_start_over() {
        assert!(depth_ok("a: [[[\n---\nb: [[[x]]]\n"));
    }

    #[test]
    fn a_bomb_is_found_quickly() {
        let bomb = format!("services: {}", "[".repeat(1_000_000));
        let t = std::time::Instant::now();
        assert_eq!(
            check(&bomb, MAX_DEPTH),
            Err(TooDeep {
                line: 1,
                column: 11 + MAX_DEPTH
            })
        );
        let quoted = format!("a: \"{}\"\n", "[".repeat(1_000_000));
        assert!(check(&quoted, MAX_DEPTH).is_ok());
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }

    /// Whatever the scan lets through the parser would have failed on anyway:
    /// the limit is the parser's own.
    #[test]
    fn the_limit_is_the_parsers() {
        use serde::Deserialize;
        for depth in MAX_DEPTH - 2..MAX_DEPTH + 3 {
            let text = format!("{}x{}", "[".repeat(depth), "]".repeat(depth));
            let parsed = serde_yaml_ng::Deserializer::from_str(&text)
                .map(serde_yaml_ng::Value::deserialize)
                .collect::<Result<Vec<_>, _>>()
                .is_ok();
            if check(&text, MAX_DEPTH).is_err() {
                assert!(!parsed, "depth {depth} is refused but parses");
            }
        }
    }

    /// Every YAML file of the shared conformance corpora (compose-go's, docker
    /// compose's) that the parser loads passes the scan: it takes no real file for
    /// a bomb.
    #[test]
    fn no_conformance_file_is_refused() {
        use serde::Deserialize;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance");
        let mut stack = vec![root];
        let mut seen = 0;
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let yaml = p.extension().is_some_and(|x| x == "yaml" || x == "yml");
                let Some(text) = yaml.then(|| std::fs::read_to_string(&p).ok()).flatten() else {
                    continue;
                };
                let parses = serde_yaml_ng::Deserializer::from_str(&text)
                    .map(serde_yaml_ng::Value::deserialize)
                    .all(|d| d.is_ok());
                if parses {
                    seen += 1;
                    assert_eq!(check(&text, MAX_DEPTH), Ok(()), "{}", p.display());
                    // Even at a depth no compose file needs, nothing is taken for more
                    // than it is.
                    assert_eq!(check(&text, 8), Ok(()), "{}", p.display());
                }
            }
        }
        eprintln!("{seen} conformance files scanned");
    }
}
