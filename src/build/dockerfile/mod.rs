//! The Dockerfile language as BuildKit's frontend reads it.
//!
//! [`ast`] holds what the executor consumes; words stay unexpanded where the
//! builder expands them with the ARG/ENV values in scope.

pub mod ast;
pub mod error;

pub use ast::*;
pub use error::{ErrorKind, ExpandError, ExpandReason, ParseError};
pub mod substitute;
pub use substitute::{expand, expand_words, Lexer, Lookup};
