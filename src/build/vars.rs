//! The ARG/ENV values a step sees, and word expansion with them.
//!
//! ENV beats ARG of the same name; ARGs are those declared in the stage (or
//! imported with a bare `ARG X` from the global ones), with `--build-arg` values
//! over their defaults.

use indexmap::IndexMap;

/// Values in scope at one step.
pub struct Scope<'a> {
    /// `KEY=value` of the stage's ENV.
    pub env: &'a [String],
    /// Declared ARGs with their values.
    pub args: &'a IndexMap<String, String>,
    /// The Dockerfile's escape character.
    pub escape: char,
}

impl Scope<'_> {
    /// The value of `name`: ENV first, then ARG.
    pub fn get(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find_map(|kv| {
                kv.split_once('=')
                    .filter(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
            .or_else(|| self.args.get(name).cloned())
    }

    /// Expands `$X`, `${X}` and the `${X:-w}` family in `word`.
    pub fn expand(&self, word: &str) -> Result<String, String> {
        expand(word, self.escape, &|n| self.get(n))
    }

    /// Expands `word` into several words (EXPOSE).
    pub fn expand_words(&self, word: &str) -> Result<Vec<String>, String> {
        expand_words(word, self.escape, &|n| self.get(n))
    }
}

/// Expands a Dockerfile word with the parser's lexer (BuildKit's `shell/lex.go`
/// rules): every `${...}` form, quotes removed, `escape` making the next
/// character literal.
pub fn expand(
    word: &str,
    escape: char,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    super::dockerfile::expand(word, escape, get).map_err(|e| e.to_string())
}

/// Like [`expand`], split into words at unquoted whitespace (EXPOSE).
pub fn expand_words(
    word: &str,
    escape: char,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    super::dockerfile::expand_words(word, escape, get).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_the_reference_forms() {
        let get = |n: &str| match n {
            "a" => Some("x".to_string()),
            "e" => Some(String::new()),
            _ => None,
        };
        assert_eq!(expand("$a/${a}", '\\', &get).unwrap(), "x/x");
        assert_eq!(expand("${b:-d}${e:-d}${e-d}", '\\', &get).unwrap(), "dd");
        assert_eq!(expand("${a:+y}${b:+y}", '\\', &get).unwrap(), "y");
        assert_eq!(expand("'$a'", '\\', &get).unwrap(), "$a");
        assert_eq!(expand("\\$a", '\\', &get).unwrap(), "$a");
        assert_eq!(expand("\"$a b\"", '\\', &get).unwrap(), "x b");
        assert!(expand("${b:?need b}", '\\', &get).is_err());
    }
}
