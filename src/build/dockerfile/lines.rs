//! Physical lines: newlines, comments, continuation characters.
//!
//! As BuildKit's `parser.go`: a `#` is a comment only as the first
//! non-blank character of a line; the escape character as the last
//! non-blank one continues the line unless it is itself escaped (and a line
//! holding only it continues too).

/// Splits text into lines that keep their `\n` (the last may lack one).
pub(crate) fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive('\n')
}

/// The line without its trailing `\r`s and `\n`s.
pub(crate) fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// True when the first non-blank character is `#`.
pub(crate) fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// True for a line of blanks only.
pub(crate) fn is_empty_continuation_line(line: &str) -> bool {
    trim_newline(line).trim_start().is_empty()
}

/// Removes a continuation character: `(line, false)` when the line goes on
/// with the next one, `(line, true)` when it ends here.
pub(crate) fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line, true);
    };
    // BuildKit's regex wants a character before the escape that is not the
    // escape itself, or the escape alone on the line.
    match before.chars().next_back() {
        None => (before, false),
        Some(c) if c != escape => (before, false),
        Some(_) => (line, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation() {
        assert_eq!(trim_continuation("RUN a \\", '\\'), ("RUN a ", false));
        assert_eq!(trim_continuation("RUN a \\ \t", '\\'), ("RUN a ", false));
        assert_eq!(trim_continuation("\\", '\\'), ("", false));
        assert_eq!(trim_continuation("  \\", '\\'), ("  ", false));
        assert_eq!(trim_continuation("RUN a \\\\", '\\'), ("RUN a \\\\", true));
        assert_eq!(trim_continuation("RUN a", '\\'), ("RUN a", true));
        assert_eq!(trim_continuation("RUN a `", '`'), ("RUN a ", false));
        assert_eq!(trim_continuation("RUN a \\", '`'), ("RUN a \\", true));
    }

    #[test]
    fn comments_and_newlines() {
        assert!(is_comment("  # x"));
        assert!(!is_comment("RUN # x"));
        assert_eq!(trim_newline("a\r\n"), "a");
        assert!(is_empty_continuation_line(" \t\r\n"));
        assert_eq!(
            split_lines("a\nb\n\nc").collect::<Vec<_>>(),
            ["a\n", "b\n", "\n", "c"]
        );
    }
}
