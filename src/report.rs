//! How an error reads to a person: the chain of causes on one line, each cause
//! once, and no value so long it buries the message.
//!
//! Most of berth's error types print their cause inside their own message
//! (`write <path>: No space left on device`) *and* hand it out as `source()`,
//! so `{:#}`, which appends every source, said the same thing twice. Errors are
//! printed through here, at the edge, instead of through `{:#}`.

use std::error::Error as StdError;
use std::fmt::Write as _;

/// A run of text without blanks longer than this is cut in the middle.
const MAX_RUN: usize = 256;
/// A whole message longer than this is cut in the middle.
const MAX_TEXT: usize = 4096;

/// The error and its causes, `outer: inner: …`, each cause left out when the
/// text so far already ends with it; long values cut.
pub fn text(e: &anyhow::Error) -> String {
    chain(e.chain())
}

fn chain<'a>(errors: impl Iterator<Item = &'a (dyn StdError + 'static)>) -> String {
    let mut out = String::new();
    for e in errors {
        let msg = e.to_string();
        if msg.is_empty() || out.ends_with(&msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&msg);
    }
    shorten(&out)
}

/// Cuts every blank-free run longer than [`MAX_RUN`] (a 5 MB container name, a
/// million-digit port) and then the whole text to [`MAX_TEXT`], saying how much
/// was left out.
pub fn shorten(text: &str) -> String {
    if text.len() <= MAX_RUN {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len().min(MAX_TEXT + 64));
    for (i, piece) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if piece.len() > MAX_RUN {
            cut(&mut out, piece, MAX_RUN / 2);
        } else {
            out.push_str(piece);
        }
    }
    if out.len() > MAX_TEXT {
        let whole = std::mem::take(&mut out);
        cut(&mut out, &whole, MAX_TEXT / 2);
    }
    out
}

/// Appends `keep` bytes of each end of `s` around a note of what is left out.
fn cut(out: &mut String, s: &str, keep: usize) {
    let head = floor(s, keep);
    let tail = ceil(s, s.len() - keep);
    out.push_str(&s[..head]);
    let _ = write!(out, "…[{} bytes]…", tail - head);
    out.push_str(&s[tail..]);
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[derive(Debug, thiserror::Error)]
    #[error("write {path}: {source}")]
    struct WriteError {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let e: anyhow::Error = WriteError {
            path: "/r/networks/.n.json.tmp.1.0".into(),
            source: io,
        }
        .into();
        let e = e.context("Network p_back");
        assert_eq!(
            text(&e),
            "Network p_back: write /r/networks/.n.json.tmp.1.0: No space left on device (os error 28)"
        );
        // A cause not yet said is still said.
        let e = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::ENOENT))
            .context("reading compose.yaml");
        assert_eq!(
            text(&e),
            "reading compose.yaml: No such file or directory (os error 2)"
        );
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("inner"));
        assert_eq!(text(&r.context("outer").unwrap_err()), "outer: inner");
    }

    #[test]
    fn huge_values_are_cut() {
        let name = "x".repeat(5_000_000);
        let e = anyhow::anyhow!("container {name:?} is invalid: too long");
        let t = text(&e);
        assert!(t.len() < 400, "{}", t.len());
        assert!(t.starts_with("container \"xxx"));
        assert!(t.ends_with("xxx\" is invalid: too long"));
        assert!(t.contains("[4999746 bytes]"), "{t}");
        // Many short words: the whole is bounded too.
        let cycle = (0..20_000)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join(" -> ");
        let t = shorten(&format!("dependency cycle detected: {cycle}"));
        assert!(t.len() <= MAX_TEXT + 32);
        assert!(t.starts_with("dependency cycle detected: s0 -> s1"));
        // Multi-byte text is cut on character boundaries.
        let t = shorten(&"é".repeat(1000));
        assert!(t.starts_with('é') && t.ends_with('é'));
        assert_eq!(shorten("short"), "short");
    }
}
