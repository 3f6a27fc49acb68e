//! `$VAR` / `${VAR...}` substitution and quote removal, as BuildKit's
//! `shell/lex.go` does it for the instructions the builder expands.
//!
//! Forms: `$v ${v} ${v:-w} ${v-w} ${v:+w} ${v+w} ${v:?m} ${v?m} ${v#p} ${v##p}
//! ${v%p} ${v%%p} ${v/p/r} ${v//p/r}`, nested in `w`/`m`/`p`/`r`. Single quotes
//! suppress substitution, double quotes do not; the escape character (`\` or
//! the `# escape=` one) makes the next character literal. Patterns (`#`, `%`,
//! `/`) are shell globs: `*` any run, `?` one character, `\` escapes.
//!
//! One deliberate difference: when splitting into words, BuildKit loses the
//! part of a word before a `${v:-w}`-style substitution (its nested lexer
//! resets the shared word buffer: `80${X:-80}` gives `80`). berth keeps it
//! (`8080`), which is what the single-word expansion of the same text gives.

use super::error::{ExpandError, ExpandReason};

/// How variables are looked up: `Some(value)` when set (possibly empty).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Expands `word` as one word: quotes removed, escapes applied, variables
/// substituted (unset ones are empty). What BuildKit does for WORKDIR, USER,
/// ENV/LABEL values, COPY paths, flag values and the like.
pub fn expand(word: &str, escape: char, lookup: Lookup<'_>) -> Result<String, ExpandError> {
    Lexer::new(escape).process_word(word, lookup)
}

/// Expands `word` and splits the result into words at unquoted whitespace
/// (whitespace coming from a variable's value splits too): what BuildKit
/// does for EXPOSE and heredoc detection.
pub fn expand_words(
    word: &str,
    escape: char,
    lookup: Lookup<'_>,
) -> Result<Vec<String>, ExpandError> {
    Lexer::new(escape).process_words(word, lookup)
}

/// The lexer with BuildKit's switches; [`expand`] and [`expand_words`] use
/// the defaults.
#[derive(Debug, Clone, Copy)]
pub struct Lexer {
    /// The escape character.
    pub escape: char,
    /// Keep quote characters in the result.
    pub raw_quotes: bool,
    /// Keep escape characters in the result.
    pub raw_escapes: bool,
    /// Leave references to unset variables as written (`$X`, `${X:-y}`).
    pub skip_unset: bool,
}

impl Lexer {
    /// A lexer with `escape` and every switch off.
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset: false,
        }
    }

    /// Expands `word` into one string.
    pub fn process_word(&self, word: &str, lookup: Lookup<'_>) -> Result<String, ExpandError> {
        self.run(word, lookup).map(|(s, _)| s)
    }

    /// Expands `word` into whitespace-separated words.
    pub fn process_words(
        &self,
        word: &str,
        lookup: Lookup<'_>,
    ) -> Result<Vec<String>, ExpandError> {
        self.run(word, lookup).map(|(_, w)| w)
    }

    fn run(&self, word: &str, lookup: Lookup<'_>) -> Result<(String, Vec<String>), ExpandError> {
        let mut sc = Scanner {
            lex: self,
            lookup,
            chars: {
                let mut v = Vec::with_capacity(word.len());
                v.extend(word.chars());
                v
            },
            pos: 0,
            raw_escapes: self.raw_escapes,
        };
        let raw = self.raw_escapes;
        sc.process_stop_on(None, raw).map_err(|reason| ExpandError {
            word: word.to_string(),
            reason,
        })
    }
}

/// Splits expanded text into words as it is produced.
#[derive(Default)]
struct Words {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.buf.push(ch);
        self.in_word = true;
    }

    fn add_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_str(&mut self, s: &str) {
        self.buf.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(self.buf);
        }
        self.words
    }
}

struct Scanner<'a> {
    lex: &'a Lexer,
    lookup: Lookup<'a>,
    chars: Vec<char>,
    pos: usize,
    raw_escapes: bool,
}

type Res<T> = Result<T, ExpandReason>;

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Reads up to `stop` (consumed) or the end; `raw_escapes` keeps escape
    /// characters for the duration (patterns need them).
    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Res<(String, Vec<String>)> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.stop_on(stop);
        self.raw_escapes = saved;
        r
    }

    fn stop_on(&mut self, stop: Option<char>) -> Res<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                    words.add_str(&v);
                }
                '<' => {
                    let v = self.process_possible_heredoc();
                    result.push_str(&v);
                    words.add_raw_str(&v);
                }
                '\'' => {
                    let v = self.process_single_quote()?;
                    result.push_str(&v);
                    words.add_raw_str(&v);
                }
                '"' => {
                    let v = self.process_double_quote()?;
                    result.push_str(&v);
                    words.add_raw_str(&v);
                }
                _ => {
                    self.pos += 1;
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        let Some(escaped) = self.next() else { break };
                        words.add_raw_char(escaped);
                        result.push(escaped);
                    } else {
                        words.add_char(ch);
                        result.push(ch);
                    }
                }
            }
        }
        if let Some(stop) = stop {
            return Err(ExpandReason::Unterminated(match stop {
                '}' => "}",
                '/' => "/",
                _ => "delimiter",
            }));
        }
        Ok((result, words.finish()))
    }

    fn process_single_quote(&mut self) -> Res<String> {
        let mut out = String::new();
        self.pos += 1;
        if self.lex.raw_quotes {
            out.push('\'');
        }
        loop {
            match self.next() {
                None => return Err(ExpandReason::Unterminated("single-quote")),
                Some('\'') => {
                    if self.lex.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Res<String> {
        let mut out = String::new();
        self.pos += 1;
        if self.lex.raw_quotes {
            out.push('"');
        }
        loop {
            match self.peek() {
                None => return Err(ExpandReason::Unterminated("double-quote")),
                Some('"') => {
                    self.pos += 1;
                    if self.lex.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    out.push_str(&v);
                }
                Some(mut ch) => {
                    self.pos += 1;
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            // The loop reports the missing quote.
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.lex.escape => {
                                ch = n;
                                self.pos += 1;
                            }
                            // Not an escape inside double quotes: kept.
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    fn process_dollar(&mut self) -> Res<String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(match self.get(&name) {
                Some(v) => v,
                None if self.lex.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(ExpandReason::MissingBrace),
            Some('{' | '}' | ':') => return Err(ExpandReason::BadSubstitution),
            _ => {}
        }
        let name = self.process_name();
        let Some(mut ch) = self.next() else {
            return Err(ExpandReason::MissingBrace);
        };
        let mut modifier = ch.to_string();
        let mut null_is_unset = false;
        match ch {
            '}' => {
                return Ok(match self.get(&name) {
                    Some(v) => v,
                    None if self.lex.skip_unset => format!("${{{name}}}"),
                    None => String::new(),
                });
            }
            '/' => return self.process_replace(&name),
            ':' => {
                null_is_unset = true;
                let Some(c) = self.next() else {
                    return Err(ExpandReason::MissingBrace);
                };
                ch = c;
                modifier.push(c);
            }
            '+' | '-' | '?' | '#' | '%' => {}
            _ => return Err(ExpandReason::UnsupportedModifier(modifier)),
        }
        // After `:` BuildKit reads the word whatever the modifier, and only
        // then rejects what it does not know (`${v:=x}`, `${v:#x}`).
        let pattern_like = ch == '#' || ch == '%';
        if null_is_unset && pattern_like {
            return Err(ExpandReason::UnsupportedModifier(modifier));
        }
        let word = match self.process_stop_on(Some('}'), pattern_like) {
            Ok((w, _)) => w,
            Err(e) => {
                if self.peek().is_none() {
                    return Err(ExpandReason::MissingBrace);
                }
                return Err(e);
            }
        };
        let value = self.get(&name);
        if self.lex.skip_unset && value.is_none() {
            return Ok(format!("${{{name}{modifier}{word}}}"));
        }
        let empty = value
            .as_deref()
            .is_none_or(|v| null_is_unset && v.is_empty());
        match ch {
            '-' => Ok(if empty {
                word
            } else {
                value.unwrap_or_default()
            }),
            '+' => Ok(if empty { String::new() } else { word }),
            '?' => {
                let Some(v) = value else {
                    return Err(required(&name, word, "is not allowed to be unset"));
                };
                if null_is_unset && v.is_empty() {
                    return Err(required(&name, word, "is not allowed to be empty"));
                }
                Ok(v)
            }
            '#' | '%' => {
                let value = value.unwrap_or_default();
                let (greedy, pattern) = match word.strip_prefix(ch) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                if ch == '%' {
                    trim_suffix(pattern, &value, greedy)
                } else {
                    trim_prefix(pattern, &value, greedy)
                }
            }
            _ => Err(ExpandReason::UnsupportedModifier(modifier)),
        }
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`.
    fn process_replace(&mut self, name: &str) -> Res<String> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }
        let pattern = match self.process_stop_on(Some('/'), true) {
            Ok((p, _)) => p,
            Err(_) if self.peek().is_none() => return Err(ExpandReason::MissingSlash),
            Err(e) => return Err(e),
        };
        let replacement = match self.process_stop_on(Some('}'), true) {
            Ok((r, _)) => r,
            Err(_) if self.peek().is_none() => return Err(ExpandReason::MissingBrace),
            Err(e) => return Err(e),
        };
        let value = self.get(name);
        if self.lex.skip_unset && value.is_none() {
            return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
        }
        // An unset variable is empty, and `${v//*/x}` still gives `x`.
        let value = value.unwrap_or_default();
        let toks = compile(&pattern)?;
        let chars: Vec<char> = value.chars().collect();
        Ok(replace(&toks, &chars, &replacement, all))
    }

    /// A variable name: digits only (positional), one special character, or
    /// letters, digits and `_`.
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(d) = self.peek().filter(|c| is_digit(*c)) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return ch.to_string();
            }
            if !ch.is_alphabetic() && !is_digit(ch) && ch != '_' {
                break;
            }
            name.push(ch);
            self.pos += 1;
        }
        name
    }

    /// `<<` and the blanks after it stay together (heredoc words).
    fn process_possible_heredoc(&mut self) -> String {
        self.pos += 1;
        if self.peek() != Some('<') {
            return "<".to_string();
        }
        self.pos += 1;
        let mut out = "<<".to_string();
        while let Some(c) = self.peek().filter(|c| matches!(c, '\t' | '\r' | ' ')) {
            out.push(c);
            self.pos += 1;
        }
        out
    }
}

/// Go's `unicode.IsDigit` (decimal digits; non-ASCII ones approximated).
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

fn required(name: &str, word: String, default: &str) -> ExpandReason {
    ExpandReason::Required {
        name: name.to_string(),
        message: if word.is_empty() {
            default.to_string()
        } else {
            word
        },
    }
}

/// One element of a compiled glob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: any character but a newline (Go's `.`).
    Any,
    /// `*`: any run without newlines (Go's `.*`).
    Star,
}

/// A shell pattern as BuildKit turns it into a regular expression: `\`
/// before `}` or `/` disappears, before `*`, `?`, `\` makes them literal,
/// before anything else is an error.
fn compile(pattern: &str) -> Res<Vec<Tok>> {
    let mut out = Vec::new();
    let mut it = pattern.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::Any),
            '\\' => {
                if matches!(it.peek(), Some('}' | '/')) {
                    continue;
                }
                match it.next() {
                    Some(e @ ('*' | '?' | '\\')) => out.push(Tok::Lit(e)),
                    other => {
                        return Err(ExpandReason::InvalidPattern {
                            pattern: pattern.to_string(),
                            reason: format!("invalid escape '\\{}'", other.unwrap_or('\u{FFFD}')),
                        })
                    }
                }
            }
            c => out.push(Tok::Lit(c)),
        }
    }
    Ok(out)
}

/// Failed (token, position) states of one pattern over one text: the
/// search explores each at most once, so it stays polynomial. Dense for
/// ordinary sizes, a set when a huge value meets a long pattern.
enum Memo {
    Dense {
        failed: Vec<bool>,
        width: usize,
    },
    Sparse {
        failed: std::collections::HashSet<(usize, usize)>,
    },
}

/// Above this many states the memo is a set, not a table.
const DENSE_LIMIT: usize = 1 << 22;

impl Memo {
    fn new(toks: &[Tok], s: &[char]) -> Self {
        let size = (toks.len() + 1).saturating_mul(s.len() + 1);
        if size <= DENSE_LIMIT {
            Memo::Dense {
                failed: vec![false; size],
                width: s.len() + 1,
            }
        } else {
            Memo::Sparse {
                failed: Default::default(),
            }
        }
    }

    fn failed(&self, t: usize, i: usize) -> bool {
        match self {
            Memo::Dense { failed, width } => failed[t * width + i],
            Memo::Sparse { failed } => failed.contains(&(t, i)),
        }
    }

    fn fail(&mut self, t: usize, i: usize) {
        match self {
            Memo::Dense { failed, width } => failed[t * *width + i] = true,
            Memo::Sparse { failed } => {
                failed.insert((t, i));
            }
        }
    }
}

/// Where a match of `toks` starting at `start` ends, choosing as a
/// backtracking regex engine would: stars as long (greedy) or as short as
/// possible, earlier stars first. Iterative, so no pattern can exhaust the
/// stack.
fn match_at(
    toks: &[Tok],
    s: &[char],
    start: usize,
    greedy: bool,
    memo: &mut Memo,
) -> Option<usize> {
    // Choice points: (star token, position it started at, current end, last end).
    let mut stack: Vec<(usize, usize, usize, usize)> = Vec::new();
    let (mut t, mut i) = (0, start);
    loop {
        // Run forward until a match or a dead end.
        loop {
            if t == toks.len() {
                return Some(i);
            }
            if memo.failed(t, i) {
                break;
            }
            match toks[t] {
                Tok::Lit(c) if s.get(i) == Some(&c) => (t, i) = (t + 1, i + 1),
                Tok::Any if s.get(i).is_some_and(|c| *c != '\n') => (t, i) = (t + 1, i + 1),
                Tok::Lit(_) | Tok::Any => break,
                Tok::Star => {
                    let max = s[i..]
                        .iter()
                        .position(|c| *c == '\n')
                        .map_or(s.len(), |p| i + p);
                    let first = if greedy { max } else { i };
                    stack.push((t, i, first, max));
                    (t, i) = (t + 1, first);
                }
            }
        }
        // Back to the latest star with a choice left.
        loop {
            let (st, si, j, max) = stack.pop()?;
            memo.fail(st + 1, j);
            let next = if greedy {
                (j > si).then(|| j - 1)
            } else {
                (j < max).then_some(j + 1)
            };
            match next {
                Some(n) => {
                    stack.push((st, si, n, max));
                    (t, i) = (st + 1, n);
                    break;
                }
                None => memo.fail(st, si),
            }
        }
    }
}

/// `${v#p}` / `${v##p}`: drop the shortest / longest matching prefix.
fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Res<String> {
    let toks = compile(pattern)?;
    let chars: Vec<char> = value.chars().collect();
    let mut memo = Memo::new(&toks, &chars);
    Ok(match match_at(&toks, &chars, 0, greedy, &mut memo) {
        Some(end) => chars[end..].iter().collect(),
        None => value.to_string(),
    })
}

/// `${v%p}` / `${v%%p}`: a prefix trim of the reversed value with the
/// reversed pattern (escape pairs kept in order).
fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Res<String> {
    let rev: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &rev, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

fn reverse_pattern(pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; p.len()];
    let last = p.len().saturating_sub(1);
    let mut i = 0;
    while i < p.len() {
        if p[i] == '\\' && i != last {
            out[last - i - 1] = '\\';
            out[last - i] = p[i + 1];
            i += 2;
        } else {
            out[last - i] = p[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// `${v/p/r}` (first, leftmost match) and `${v//p/r}` (every match, Go's
/// `ReplaceAllString`: `$0` is the match, `$$` a dollar, other `$name`s empty).
fn replace(toks: &[Tok], s: &[char], replacement: &str, all: bool) -> String {
    let mut memo = Memo::new(toks, s);
    let mut find = |from: usize| {
        (from..=s.len()).find_map(|a| match_at(toks, s, a, true, &mut memo).map(|b| (a, b)))
    };
    let mut out = String::new();
    if !all {
        match find(0) {
            Some((a, b)) => {
                out.extend(&s[..a]);
                out.push_str(replacement);
                out.extend(&s[b..]);
            }
            None => out.extend(s),
        }
        return out;
    }
    let mut last_end = 0;
    let mut search = 0;
    while search <= s.len() {
        let Some((a, b)) = find(search) else { break };
        out.extend(&s[last_end..a]);
        if b > last_end || a == 0 {
            expand_template(&mut out, replacement, &s[a..b]);
        }
        last_end = b;
        search = if search < b { b } else { search + 1 };
    }
    if last_end <= s.len() {
        out.extend(&s[last_end..]);
    }
    out
}

/// Go's `Regexp.Expand` for a pattern without groups.
fn expand_template(out: &mut String, template: &str, matched: &[char]) {
    let t: Vec<char> = template.chars().collect();
    let mut i = 0;
    while i < t.len() {
        if t[i] != '$' {
            out.push(t[i]);
            i += 1;
            continue;
        }
        if t.get(i + 1) == Some(&'$') {
            out.push('$');
            i += 2;
            continue;
        }
        let is_name = |c: &char| c.is_alphanumeric() || *c == '_';
        let (name, next) = if t.get(i + 1) == Some(&'{') {
            match t[i + 2..].iter().position(|c| *c == '}') {
                Some(p) if p > 0 && t[i + 2..i + 2 + p].iter().all(is_name) => {
                    (t[i + 2..i + 2 + p].iter().collect::<String>(), i + 3 + p)
                }
                _ => {
                    out.push('$');
                    i += 1;
                    continue;
                }
            }
        } else {
            let n = t[i + 1..].iter().take_while(|c| is_name(c)).count();
            if n == 0 {
                out.push('$');
                i += 1;
                continue;
            }
            (t[i + 1..i + 1 + n].iter().collect::<String>(), i + 1 + n)
        };
        if name.parse::<u64>() == Ok(0) {
            out.extend(matched);
        }
        i = next;
    }
}

#[cfg(test)]
#[path = "substitute_tests.rs"]
mod tests;
