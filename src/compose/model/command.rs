//! `command` / `entrypoint`: a string is split like a shell would
//! (mattn/go-shellwords, no expansion), not run through a shell.

/// Splits a command line into words; parsing stops at an unquoted `;&|<>`
/// as go-shellwords does.
pub fn split_shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut buf = String::new();
    let mut got = false;
    let (mut escaped, mut single, mut double) = (false, false, false);
    for c in line.chars() {
        if escaped {
            buf.push(c);
            escaped = false;
            got = true;
            continue;
        }
        if c == '\\' {
            if single {
                buf.push(c);
            } else {
                escaped = true;
            }
            continue;
        }
        if c.is_whitespace() {
            if single || double {
                buf.push(c);
            } else if got {
                args.push(std::mem::take(&mut buf));
                got = false;
            }
            continue;
        }
        match c {
            '"' if !single => {
                double = !double;
                got = true;
                continue;
            }
            '\'' if !double => {
                single = !single;
                got = true;
                continue;
            }
            ';' | '&' | '|' | '<' | '>' if !(single || double) => break,
            _ => {}
        }
        got = true;
        buf.push(c);
    }
    if single || double || escaped {
        return Err(format!("invalid command line string: {line:?}"));
    }
    if got {
        args.push(buf);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        assert_eq!(
            split_shell_words(r#"sh -c "echo 'hi there'""#).unwrap(),
            vec!["sh", "-c", "echo 'hi there'"]
        );
        assert_eq!(split_shell_words("  a   b ").unwrap(), vec!["a", "b"]);
        assert_eq!(split_shell_words(r"a\ b").unwrap(), vec!["a b"]);
        assert_eq!(split_shell_words("''").unwrap(), vec![""]);
        assert!(split_shell_words("").unwrap().is_empty());
        assert!(split_shell_words("'open").is_err());
    }
}
