//! Service names on the command line as patterns: `up 'web*'` selects every
//! service whose name matches, as compose-go's `getServicesByNames` does with Go's
//! `filepath.Match` (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes).

/// Whether `arg` is a pattern rather than a plain name.
pub fn is_pattern(arg: &str) -> bool {
    arg.contains(['*', '?', '[', '\\'])
}

/// Each pattern of `args` replaced by the names of `known` it matches (in
/// `known`'s order); a plain name, or a pattern matching nothing, stays as
/// given, so that it fails later with `no such service: ARG`.
pub fn expand(args: &[String], known: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for arg in args {
        let hits: Vec<&String> = if is_pattern(arg) {
            known.iter().filter(|k| matches(arg, k)).collect()
        } else {
            vec![]
        };
        if hits.is_empty() && !out.contains(arg) {
            out.push(arg.clone());
        }
        for h in hits {
            if !out.contains(h) {
                out.push(h.clone());
            }
        }
    }
    out
}

/// Go's `filepath.Match(pattern, name)` on Linux; a malformed pattern matches
/// nothing (Go returns `ErrBadPattern`, which compose-go ignores).
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_at(&p, &n)
}

fn match_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        // `*` matches any run of characters but `/`.
        Some('*') => (0..=n.len())
            .take_while(|&i| i == 0 || n[i - 1] != '/')
            .any(|i| match_at(&p[1..], &n[i..])),
        Some('?') => n.first().is_some_and(|&c| c != '/') && match_at(&p[1..], &n[1..]),
        Some('[') => {
            let Some((&c, rest)) = n.split_first() else {
                return false;
            };
            match class(&p[1..], c) {
                Some((true, after)) => match_at(after, rest),
                _ => false,
            }
        }
        Some('\\') => match (p.get(1), n.first()) {
            (Some(&e), Some(&c)) => e == c && match_at(&p[2..], &n[1..]),
            _ => false,
        },
        Some(&l) => n.first() == Some(&l) && match_at(&p[1..], &n[1..]),
    }
}

/// A `[...]` class (after its `[`) against `c`: whether it matched and what
/// follows the class; None when the class is malformed.
fn class(mut p: &[char], c: char) -> Option<(bool, &[char])> {
    let negated = p.first() == Some(&'^');
    if negated {
        p = &p[1..];
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let (&ch, rest) = p.split_first()?;
        if ch == ']' && !first {
            return Some((hit != negated, rest));
        }
        first = false;
        let (lo, rest) = unescape(ch, rest)?;
        let (hi, rest) = match rest {
            ['-', next, tail @ ..] if *next != ']' => unescape(*next, tail)?,
            _ => (lo, rest),
        };
        if lo <= c && c <= hi {
            hit = true;
        }
        p = rest;
    }
}

fn unescape(ch: char, rest: &[char]) -> Option<(char, &[char])> {
    if ch == '\\' {
        let (&e, tail) = rest.split_first()?;
        Some((e, tail))
    } else {
        Some((ch, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_filepath_match_cases() {
        for (p, n, want) in [
            ("web*", "web", true),
            ("web*", "web-1", true),
            ("web*", "api", false),
            ("*", "anything", true),
            ("w?b", "web", true),
            ("w?b", "wb", false),
            ("[ab]pi", "api", true),
            ("[^a]pi", "api", false),
            ("[a-c]*", "cache", true),
            ("[a-c]*", "db", false),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("[", "a", false),
            ("a*b", "a/b", false),
        ] {
            assert_eq!(matches(p, n), want, "{p} vs {n}");
        }
    }

    #[test]
    fn patterns_expand_and_the_rest_stays() {
        let known: Vec<String> = ["api", "web", "web-admin", "db"].map(String::from).to_vec();
        let args: Vec<String> = ["web*", "db", "nope*", "web"].map(String::from).to_vec();
        assert_eq!(expand(&args, &known), ["web", "web-admin", "db", "nope*"]);
    }
}
