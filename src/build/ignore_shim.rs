//! A stand-in `.dockerignore` reader, used only until the full one
//! (`build::ignore`, moby/patternmatcher's semantics) is merged: comments, `!`
//! exceptions, cleaned patterns, `*`/`?`/`[..]` within a component, `**` across
//! components, a path excluded when it or a parent matches, the last match wins.

use super::context::{clean_rel, glob_match, Exclude};

/// Parsed patterns: (exception, components).
pub struct Patterns(Vec<(bool, Vec<String>)>);

impl Patterns {
    /// Reads the text of a `.dockerignore`.
    pub fn parse(text: &str) -> Patterns {
        let mut out = vec![];
        for l in text.trim_start_matches('\u{feff}').lines() {
            if l.starts_with('#') {
                continue;
            }
            let l = l.trim();
            if l.is_empty() {
                continue;
            }
            let (neg, p) = match l.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, l),
            };
            let p = clean_rel(p);
            if p.is_empty() {
                continue;
            }
            out.push((neg, p.split('/').map(String::from).collect()));
        }
        Patterns(out)
    }
}

fn matches(pat: &[String], path: &[&str]) -> bool {
    match pat.first() {
        None => path.is_empty(),
        Some(p) if p == "**" => (0..=path.len()).any(|k| matches(&pat[1..], &path[k..])),
        Some(p) => !path.is_empty() && glob_match(p, path[0]) && matches(&pat[1..], &path[1..]),
    }
}

impl Exclude for Patterns {
    fn excluded(&self, rel: &str) -> bool {
        let comps: Vec<&str> = rel.split('/').collect();
        let mut out = false;
        for (neg, pat) in &self.0 {
            let hit = (1..=comps.len()).any(|n| matches(pat, &comps[..n]));
            if hit {
                out = !neg;
            }
        }
        out
    }

    fn may_reinclude_under(&self, _: &str) -> bool {
        self.0.iter().any(|(neg, _)| *neg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_match_wins_and_parents_exclude() {
        let p = Patterns::parse("# c\nba*\nDockerfile\n!bay\nnode_modules\n**/*.log\n");
        assert!(p.excluded("bar"));
        assert!(!p.excluded("bay"));
        assert!(p.excluded("node_modules/x/y"));
        assert!(p.excluded("a/b/c.log"));
        assert!(p.excluded("c.log"));
        assert!(!p.excluded("foo"));
    }
}
