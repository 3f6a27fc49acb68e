//! Parse and expansion errors. Each parse error names `FILE:LINE` and, when
//! known, the instruction, as users see it: `Dockerfile:7: COPY: unknown flag: --form`.

use std::fmt;

/// A Dockerfile that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// The file name the caller passed (`Dockerfile`, `build/Dockerfile.dev`).
    pub file: String,
    /// 1-based line where the offending instruction starts (0 when the file
    /// as a whole is at fault and empty).
    pub line: usize,
    /// The instruction keyword as written, upper-cased, when known.
    pub instruction: Option<String>,
    /// What is wrong.
    #[source]
    pub kind: ErrorKind,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(i) = &self.instruction {
            write!(f, "{i}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

/// The ways a Dockerfile can be wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The file is not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// No instruction at all (empty, or only comments).
    #[error("file with no instructions")]
    NoInstructions,
    /// An instruction before the first FROM other than ARG.
    #[error("no build stage in current context (the first instruction must be FROM, after optional ARGs)")]
    MissingFrom,
    /// `# escape=` with something other than `\` or `` ` ``.
    #[error("invalid escape token '{0}' does not match ` or \\")]
    InvalidEscape(String),
    /// A parser directive given twice.
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    /// A keyword that is no Dockerfile instruction.
    #[error("unknown instruction: {0}")]
    UnknownInstruction(String),
    /// `--flag` the instruction does not take.
    #[error("unknown flag: {0}")]
    UnknownFlag(String),
    /// A flag given with a bad value, twice, or without `--`.
    #[error("{0}")]
    BadFlag(String),
    /// Wrong number or shape of arguments.
    #[error("{0}")]
    Arguments(String),
    /// A JSON array with something other than strings.
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    JsonNotStrings,
    /// A heredoc whose terminator never came.
    #[error("unterminated heredoc {0}")]
    UnterminatedHeredoc(String),
    /// A bad `--mount` value.
    #[error("--mount: {0}")]
    Mount(String),
    /// A `${...}` that cannot be read (where the parser itself lexes words).
    #[error(transparent)]
    Expand(Box<ExpandError>),
}

/// A word whose `$` substitution or quoting is malformed, or a `${v?msg}`
/// whose variable is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {word:?}: {reason}")]
pub struct ExpandError {
    /// The whole word being expanded.
    pub word: String,
    /// What went wrong.
    pub reason: ExpandReason,
}

/// Why a word could not be expanded (BuildKit's `shell/lex.go` messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandReason {
    /// `${` without its `}`.
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    /// `${v/p` without the second `/`.
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash,
    /// `${}`, `${{`, `${:`.
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    /// `${v:=x}` and other modifiers the Dockerfile does not have.
    #[error("unsupported modifier ({0}) in substitution")]
    UnsupportedModifier(String),
    /// `${v?msg}` / `${v:?msg}` with `v` unset (or empty).
    #[error("{name}: {message}")]
    Required {
        /// The variable.
        name: String,
        /// The message after `?`, or BuildKit's default.
        message: String,
    },
    /// A quote left open.
    #[error("unexpected end of statement while looking for matching {0}")]
    Unterminated(&'static str),
    /// A pattern with a bad escape in `#`, `%` or `/` substitutions.
    #[error("invalid pattern ({pattern}) in substitution: {reason}")]
    InvalidPattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl From<ExpandError> for ErrorKind {
    fn from(e: ExpandError) -> Self {
        ErrorKind::Expand(Box::new(e))
    }
}
