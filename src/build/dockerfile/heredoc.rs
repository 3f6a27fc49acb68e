//! Here-documents on RUN, COPY and ADD lines (`<<EOF`, `<<-EOF`,
//! `<<"EOF"`, `3<<EOF`, several per line), as BuildKit's `parser.go` finds
//! them: the line is split into words by the shell lexer (quotes and
//! escapes kept), and each word that is `^(\d*)<<(-?)\s*([^<]*)$` with a
//! one-word rest names a heredoc. Quoting any part of the word turns off
//! expansion of the body.

use super::ast::Heredoc;
use super::error::ExpandError;
use super::substitute::Lexer;

/// Variables are never set while looking for heredoc words.
fn no_env(_: &str) -> Option<String> {
    None
}

/// The heredocs a line names, in order, bodies still empty.
pub(crate) fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, ExpandError> {
    let lex = Lexer {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset: true,
        ..Lexer::new('\\')
    };
    // BuildKit ignores a lexing error of the line here (no heredocs then).
    let words = lex.process_words(line, &no_env).unwrap_or_default();
    let mut docs = Vec::new();
    for w in words {
        if let Some(h) = try_parse_word(&w)? {
            docs.push(h);
        }
    }
    Ok(docs)
}

/// The heredoc a single word names, if it is one (`<<EOF`, `<<-"EOF"`);
/// a word whose quoting is broken is not one.
pub(crate) fn parse_word(word: &str) -> Option<Heredoc> {
    try_parse_word(word).ok().flatten()
}

fn try_parse_word(word: &str) -> Result<Option<Heredoc>, ExpandError> {
    // ^(\d*)<<(-?)\s*([^<]*)$
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let Some(after) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(a) => (true, a),
        None => (false, after),
    };
    let rest = after.trim_start_matches(['\t', '\n', '\x0c', '\r', ' ']);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let fd = word[..digits].parse::<u32>().unwrap_or(0);
    let mut lex = Lexer {
        skip_unset: true,
        ..Lexer::new('\\')
    };
    let words = lex.process_words(rest, &no_env)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    lex.raw_quotes = true;
    let raw = lex.process_words(rest, &no_env)?;
    let quotes = |s: &str| s.matches(['\'', '"']).count();
    let expand = raw.len() == 1 && quotes(name) == quotes(&raw[0]);
    Ok(Some(Heredoc {
        name: name.clone(),
        fd,
        expand,
        chomp,
        content: String::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str, expand: bool, chomp: bool, fd: u32) -> Heredoc {
        Heredoc {
            name: name.to_string(),
            fd,
            expand,
            chomp,
            content: String::new(),
        }
    }

    #[test]
    fn words() {
        // BuildKit's parser_heredoc_test.go TestParseHeredocHelpers, in short.
        let cases: &[(&str, Option<Heredoc>)] = &[
            ("<<EOF", Some(doc("EOF", true, false, 0))),
            ("<<'EOF'", Some(doc("EOF", false, false, 0))),
            ("<<\"EOF\"", Some(doc("EOF", false, false, 0))),
            ("<<E\"O\"F", Some(doc("EOF", false, false, 0))),
            ("<<-EOF", Some(doc("EOF", true, true, 0))),
            ("<<-'EOF'", Some(doc("EOF", false, true, 0))),
            ("3<<EOF", Some(doc("EOF", true, false, 3))),
            ("<< EOF", Some(doc("EOF", true, false, 0))),
            ("<<", None),
            ("<<<EOF", None),
            ("EOF", None),
            ("<<EOF EOF", None),
            ("-<<EOF", None),
            ("a<<EOF", None),
        ];
        for (word, want) in cases {
            assert_eq!(parse_word(word).as_ref(), want.as_ref(), "{word}");
        }
    }

    #[test]
    fn several_per_line() {
        let docs = heredocs_from_line("RUN 3<<A cat /dev/fd/3 <<-'B' && python3 <<\"C\" x <<notme")
            .unwrap();
        let names: Vec<_> = docs
            .iter()
            .map(|d| (d.name.as_str(), d.expand, d.chomp, d.fd))
            .collect();
        assert_eq!(
            names,
            [
                ("A", true, false, 3),
                ("B", false, true, 0),
                ("C", false, false, 0),
                ("notme", true, false, 0)
            ]
        );
        assert!(heredocs_from_line("RUN echo '<<EOF'").unwrap().is_empty());
        assert!(heredocs_from_line("RUN echo a<<EOF").unwrap().is_empty());
    }
}
