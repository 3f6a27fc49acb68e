//! The Dockerfile language as BuildKit's frontend reads it.
//!
//! [`parse`] turns a file into a [`Dockerfile`]: parser directives, global
//! ARGs and stages of typed instructions with their source lines. Words stay
//! unexpanded where the builder expands them with the ARG/ENV values in
//! scope: use [`expand`] / [`expand_words`] with [`Dockerfile::escape`].
//!
//! One module per concern: [`directives`], `lines` (comments and
//! continuations), `heredoc`, `words` (flags and argument shapes),
//! [`substitute`], `syntax` (text to nodes), `instructions` (nodes to the
//! [`ast`]), `flags`, `mount`.
//!
//! Why not a crate: `dockerfile-parser-rs` knows heredocs only as a literal
//! `<<EOF`; `parse-dockerfile` reads the syntax (heredocs included) but not
//! BuildKit's word expansion (`shell/lex.go`), its per-instruction flag and
//! argument checks, `--mount` values, or its error texts, which the builder
//! needs exactly; and `.dockerignore` needs patternmatcher's own rules. So
//! the parser is ours, small, tested against BuildKit's vectors.
//!
//! Where berth is stricter than BuildKit (each would fail later anyway, or
//! never make sense): unknown flags are refused on every instruction (BuildKit
//! ignores flags on ARG, STOPSIGNAL and `HEALTHCHECK NONE`), an empty `RUN`
//! is refused, and ONBUILD triggers are parsed when declared, not only when a
//! child image runs them.

pub mod ast;
pub mod directives;
mod duration;
pub mod error;
mod flags;
mod heredoc;
mod instructions;
mod lines;
mod mount;
pub mod substitute;
mod syntax;
mod words;

pub use ast::*;
pub use error::{ErrorKind, ExpandError, ExpandReason, ParseError};
pub use substitute::{expand, expand_words, Lexer, Lookup};

/// Parses a Dockerfile. `file` is how errors name it (`Dockerfile`,
/// `app/Dockerfile.dev`): every error reads `FILE:LINE: INSTRUCTION: what`.
pub fn parse(source: &[u8], file: &str) -> Result<Dockerfile, ParseError> {
    let text = std::str::from_utf8(source).map_err(|e| ParseError {
        file: file.to_string(),
        line: source[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1,
        instruction: None,
        kind: ErrorKind::InvalidUtf8,
    })?;
    parse_str(text, file)
}

/// [`parse`] for text already in memory.
pub fn parse_str(text: &str, file: &str) -> Result<Dockerfile, ParseError> {
    let parsed = syntax::parse_nodes(text).map_err(|(line, kind)| ParseError {
        file: file.to_string(),
        line,
        instruction: keyword_at(text, line),
        kind,
    })?;
    let last_line = parsed.nodes.last().map_or(0, |n| n.line);
    let (meta_args, stages) =
        instructions::assemble(parsed.nodes).map_err(|(line, instruction, kind)| ParseError {
            file: file.to_string(),
            line,
            instruction,
            kind,
        })?;
    if stages.is_empty() {
        return Err(ParseError {
            file: file.to_string(),
            line: last_line,
            instruction: None,
            kind: ErrorKind::MissingFrom,
        });
    }
    Ok(Dockerfile {
        directives: parsed.directives,
        meta_args,
        stages,
        warnings: parsed.warnings,
    })
}

/// Parses one ONBUILD trigger as stored in an image config (the text after
/// `ONBUILD`, heredoc bodies included), as BuildKit does when a child image
/// starts FROM it. `origin` names the image for errors.
pub fn parse_trigger(expression: &str, origin: &str) -> Result<Instruction, ParseError> {
    let err = |line, instruction, kind| ParseError {
        file: origin.to_string(),
        line,
        instruction,
        kind,
    };
    let parsed = syntax::parse_nodes(expression)
        .map_err(|(line, kind)| err(line, keyword_at(expression, line), kind))?;
    let mut nodes = parsed.nodes;
    let [node] = nodes.as_mut_slice() else {
        return Err(err(
            1,
            Some("ONBUILD".into()),
            ErrorKind::Arguments("a trigger must be exactly one instruction".into()),
        ));
    };
    let keyword = Some(node.keyword.to_ascii_uppercase());
    match node.keyword.to_ascii_uppercase().as_str() {
        "ONBUILD" | "FROM" | "MAINTAINER" => {
            return Err(err(
                node.line,
                keyword,
                ErrorKind::Arguments(format!(
                    "{} isn't allowed as an ONBUILD trigger",
                    node.keyword
                )),
            ))
        }
        _ => {}
    }
    match instructions::parse_node(node).map_err(|k| err(node.line, keyword.clone(), k))? {
        instructions::Parsed::Instruction(i) => Ok(i),
        instructions::Parsed::From(_) => Err(err(
            node.line,
            keyword,
            ErrorKind::Arguments("FROM isn't allowed as an ONBUILD trigger".into()),
        )),
    }
}

/// The instruction keyword on a 1-based line, for errors found before the
/// line became an instruction.
fn keyword_at(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?.trim_start();
    let word: String = l.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let upper = word.to_ascii_uppercase();
    instructions::is_keyword(&upper).then_some(upper)
}

#[cfg(test)]
mod tests;

/// CPU time this thread has used: what the speed tests bound, because wall time
/// on a loaded CI machine says more about the other jobs than about the parser.
#[cfg(test)]
pub(crate) fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into `ts`, a valid timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
