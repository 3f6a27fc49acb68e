//! `.dockerignore`: which context paths a build does not see, with
//! moby/patternmatcher's semantics (and its `ignorefile.ReadAll`).
//!
//! - A line starting with `#` in column 1 is a comment (`  #x` is a pattern);
//!   lines are trimmed; `!` re-includes (blanks after it trimmed); patterns
//!   are cleaned like Go's `filepath.Clean` and lose one leading `/`.
//! - `*` is any run without `/`, `?` one character but `/`, `[...]` a class,
//!   `\` escapes; `**` is any number of directories (`**/foo` also matches
//!   `foo`, `dir/**` everything under `dir` but not `dir`, a leading `**foo`
//!   is a suffix match).
//! - A path is excluded when it or a parent matches; the last matching line
//!   wins; an exclusion is only consulted while the path is excluded.
//! - `<Dockerfile>.dockerignore` beside the Dockerfile overrides the
//!   context's `.dockerignore` ([`ignore_file`]).

use std::path::{Path, PathBuf};

/// A pattern that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    /// A lone `!`.
    #[error("illegal exclusion pattern: \"!\"")]
    LoneExclusion,
    /// An unclosed `[`, a trailing `\`, an empty class.
    #[error("syntax error in pattern: {0:?}")]
    BadPattern(String),
    /// The ignore file could not be read.
    #[error("reading {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

/// Reads the lines of an ignore file into patterns (BuildKit's `ReadAll`).
pub fn read_patterns(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = if i == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut p = String::new();
        if !pattern.is_empty() {
            p = clean(pattern);
            if p.len() > 1 && p.starts_with('/') {
                p.remove(0);
            }
        }
        out.push(if invert { format!("!{p}") } else { p });
    }
    out
}

/// The ignore file that applies: `<Dockerfile>.dockerignore` next to the
/// Dockerfile when it exists, else `<context>/.dockerignore` when it exists.
pub fn ignore_file(context: &Path, dockerfile: &Path) -> Option<PathBuf> {
    if let Some(name) = dockerfile.file_name() {
        let mut n = name.to_os_string();
        n.push(".dockerignore");
        let beside = dockerfile.with_file_name(n);
        if beside.is_file() {
            return Some(beside);
        }
    }
    let default = context.join(".dockerignore");
    default.is_file().then_some(default)
}

/// The matcher for a build: patterns from [`ignore_file`], or none.
pub fn load(context: &Path, dockerfile: &Path) -> Result<Matcher, IgnoreError> {
    let Some(path) = ignore_file(context, dockerfile) else {
        return Matcher::new::<&str>(&[]);
    };
    let text = std::fs::read(&path).map_err(|e| IgnoreError::Read {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Matcher::new(&read_patterns(&String::from_utf8_lossy(&text)))
}

/// Compiled patterns.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

/// What [`Matcher::matches_with_parents`] remembers about a directory, so
/// a walk decides each child from its parent's result.
#[derive(Debug, Clone, Default)]
pub struct ParentMatches(Vec<bool>);

#[derive(Debug, Clone)]
struct Pattern {
    cleaned: String,
    dirs: usize,
    exclusion: bool,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Exact,
    /// `dir/**`: everything starting with `dir/`.
    Prefix(String),
    /// A leading `**`: everything ending with the rest.
    Suffix(String),
    Glob(Vec<Tok>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`: `[^/]*`.
    Star,
    /// `?`: `[^/]`.
    One,
    /// `**/` inside: `(.*/)?`.
    Dirs,
    /// A trailing `**` after other wildcards: `.*`.
    All,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Matcher {
    /// Compiles `patterns` (as [`read_patterns`] gives them).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher, IgnoreError> {
        let mut m = Matcher::default();
        for p in patterns {
            let p = p.as_ref().trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean(p);
            let mut exclusion = false;
            if let Some(rest) = p.strip_prefix('!') {
                if rest.is_empty() {
                    return Err(IgnoreError::LoneExclusion);
                }
                exclusion = true;
                m.exclusions = true;
                p = rest.to_string();
            }
            validate(&p)?;
            let kind = compile(&p)?;
            m.patterns.push(Pattern {
                dirs: p.split('/').count(),
                cleaned: p,
                exclusion,
                kind,
            });
        }
        Ok(m)
    }

    /// True when there are `!` patterns (a walk must then descend into
    /// excluded directories).
    pub fn exclusions(&self) -> bool {
        self.exclusions
    }

    /// True when there are no patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// patternmatcher's `Matches`: the path, or its parent directory cut to
    /// the pattern's depth, matches (slash-separated, relative path).
    pub fn matches(&self, path: &str) -> bool {
        let (file, parents) = split_parents(path);
        if file == "." {
            return false;
        }
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.matches(&file);
            if !hit && !parents.is_empty() && p.dirs <= parents.len() {
                hit = p.matches(&parents[..p.dirs].join("/"));
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// patternmatcher's `MatchesOrParentMatches`: the path or any parent
    /// directory matches. What decides whether a context file is excluded.
    pub fn matches_or_parent(&self, path: &str) -> bool {
        let (file, parents) = split_parents(path);
        if file == "." {
            return false;
        }
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.matches(&file);
            if !hit {
                hit = (1..=parents.len()).any(|i| p.matches(&parents[..i].join("/")));
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// patternmatcher's `MatchesUsingParentResults`: decide `path` from the
    /// result its parent directory got (pass `None` for a top-level path or
    /// when the parent was not evaluated), and return what its children
    /// need. Same answers as [`Matcher::matches_or_parent`], one pattern
    /// test per level instead of one per ancestor.
    pub fn matches_with_parents(
        &self,
        path: &str,
        parent: Option<&ParentMatches>,
    ) -> (bool, ParentMatches) {
        let (file, parents) = split_parents(path);
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = parent.and_then(|pm| pm.0.get(i).copied()).unwrap_or(false);
            if !hit {
                if p.exclusion != matched {
                    continue;
                }
                hit = p.matches(&file);
                if !hit && parent.is_none() {
                    hit = (1..=parents.len()).any(|k| p.matches(&parents[..k].join("/")));
                }
            }
            info[i] = hit;
            if hit {
                matched = !p.exclusion;
            }
        }
        (matched, ParentMatches(info))
    }
}

/// The cleaned path and its parent directory's components (empty for a
/// top-level path).
fn split_parents(path: &str) -> (String, Vec<String>) {
    let file = clean(path);
    let parents = match file.rfind('/') {
        Some(i) => {
            let dir = if i == 0 {
                "/".to_string()
            } else {
                clean(&file[..i])
            };
            if dir == "." {
                Vec::new()
            } else {
                dir.split('/').map(str::to_string).collect()
            }
        }
        None => Vec::new(),
    };
    (file, parents)
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Kind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix.strip_prefix('/').is_some_and(|s| path == s)
            }
            Kind::Glob(toks) => glob_match(toks, &path.chars().collect::<Vec<_>>()),
        }
    }
}

/// patternmatcher's `compile`: exact, prefix and suffix shortcuts, else a
/// glob.
fn compile(pattern: &str) -> Result<Kind, IgnoreError> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Glob,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut detected = Detected::Exact;
    let mut k = 0;
    let mut first = true;
    while k < chars.len() {
        let ch = chars[k];
        k += 1;
        match ch {
            '*' if chars.get(k) == Some(&'*') => {
                k += 1;
                if chars.get(k) == Some(&'/') {
                    k += 1;
                }
                if k == chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        toks.push(Tok::All);
                        detected = Detected::Glob;
                    }
                } else {
                    toks.push(Tok::Dirs);
                    detected = Detected::Glob;
                }
                if first {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                detected = Detected::Glob;
            }
            '?' => {
                toks.push(Tok::One);
                detected = Detected::Glob;
            }
            '\\' => match chars.get(k) {
                Some(&c) => {
                    k += 1;
                    toks.push(Tok::Lit(c));
                    detected = Detected::Glob;
                }
                None => toks.push(Tok::Lit('\\')),
            },
            '[' => {
                let (tok, next) =
                    class(&chars, k).ok_or_else(|| IgnoreError::BadPattern(pattern.to_string()))?;
                toks.push(tok);
                k = next;
                detected = Detected::Glob;
            }
            c => toks.push(Tok::Lit(c)),
        }
        first = false;
    }
    Ok(match detected {
        Detected::Exact => Kind::Exact,
        Detected::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_string()),
        Detected::Suffix => Kind::Suffix(pattern[2..].to_string()),
        Detected::Glob => Kind::Glob(toks),
    })
}

/// A `[...]` class starting after the `[` at `k`: the token and the index
/// after the `]`.
fn class(chars: &[char], mut k: usize) -> Option<(Tok, usize)> {
    let mut negated = false;
    if matches!(chars.get(k), Some('^') | Some('!')) {
        negated = true;
        k += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let c = *chars.get(k)?;
        if c == ']' && !ranges.is_empty() {
            return Some((Tok::Class { negated, ranges }, k + 1));
        }
        let lo = if c == '\\' {
            k += 1;
            *chars.get(k)?
        } else {
            c
        };
        k += 1;
        let mut hi = lo;
        if chars.get(k) == Some(&'-') && chars.get(k + 1).is_some_and(|c| *c != ']') {
            k += 1;
            hi = if chars[k] == '\\' {
                k += 1;
                *chars.get(k)?
            } else {
                chars[k]
            };
            k += 1;
        }
        ranges.push((lo, hi));
    }
}

/// Go's `filepath.Match(pattern, ".")` error check: classes closed and
/// non-empty, no trailing `\`.
fn validate(pattern: &str) -> Result<(), IgnoreError> {
    let chars: Vec<char> = pattern.chars().collect();
    let bad = || IgnoreError::BadPattern(pattern.to_string());
    let mut k = 0;
    while k < chars.len() {
        match chars[k] {
            '\\' => {
                if k + 1 == chars.len() {
                    return Err(bad());
                }
                k += 2;
            }
            '[' => {
                let (_, next) = class(&chars, k + 1).ok_or_else(bad)?;
                k = next;
            }
            _ => k += 1,
        }
    }
    Ok(())
}

/// Whole-string match of a glob, memoised so no pattern is exponential.
fn glob_match(toks: &[Tok], s: &[char]) -> bool {
    let width = s.len() + 1;
    let size = (toks.len() + 1).saturating_mul(width);
    // A table for ordinary sizes, a set for a huge pattern.
    let mut dense = if size <= 1 << 22 {
        vec![false; size]
    } else {
        Vec::new()
    };
    let mut sparse = std::collections::HashSet::new();
    // Explicit stack of (token, position) states still to try.
    let mut stack = vec![(0usize, 0usize)];
    while let Some((t, i)) = stack.pop() {
        if t == toks.len() {
            if i == s.len() {
                return true;
            }
            continue;
        }
        let key = t * width + i;
        let fresh = if dense.is_empty() {
            sparse.insert(key)
        } else {
            !std::mem::replace(&mut dense[key], true)
        };
        if !fresh {
            continue;
        }
        match &toks[t] {
            Tok::Lit(c) => {
                if s.get(i) == Some(c) {
                    stack.push((t + 1, i + 1));
                }
            }
            Tok::One => {
                if s.get(i).is_some_and(|c| *c != '/') {
                    stack.push((t + 1, i + 1));
                }
            }
            Tok::Star => {
                stack.push((t + 1, i));
                if s.get(i).is_some_and(|c| *c != '/') {
                    stack.push((t, i + 1));
                }
            }
            Tok::All => {
                stack.push((t + 1, i));
                if s.get(i).is_some_and(|c| *c != '\n') {
                    stack.push((t, i + 1));
                }
            }
            Tok::Dirs => {
                // Nothing, or any run ending with a `/`.
                stack.push((t + 1, i));
                for (j, c) in s.iter().enumerate().skip(i) {
                    if *c == '\n' {
                        break;
                    }
                    if *c == '/' {
                        stack.push((t + 1, j + 1));
                    }
                }
            }
            Tok::Class { negated, ranges } => {
                if let Some(c) = s.get(i) {
                    let inside = ranges.iter().any(|(lo, hi)| lo <= c && c <= hi);
                    if inside != *negated {
                        stack.push((t + 1, i + 1));
                    }
                }
            }
        }
    }
    false
}

/// Go's `path.Clean` for slash-separated paths.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
#[path = "ignore_tests.rs"]
mod tests;
