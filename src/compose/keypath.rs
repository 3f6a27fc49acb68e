//! Key paths into a compose tree (`services.web.ports[1]`) and the `*` patterns
//! compose-go matches them against.

use std::fmt;

/// A path from the root of a compose tree: mapping keys and `[n]` sequence indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KeyPath(Vec<String>);

impl KeyPath {
    /// The root path.
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path followed by a mapping key.
    pub fn key(&self, key: &str) -> Self {
        let mut next = self.0.clone();
        next.push(key.to_string());
        KeyPath(next)
    }

    /// This path followed by a sequence index.
    pub fn index(&self, i: usize) -> Self {
        let mut next = self.0.clone();
        next.push(format!("[{i}]"));
        KeyPath(next)
    }

    /// Appends a mapping key in place (paired with [`KeyPath::pop`]).
    pub fn push_key(&mut self, key: &str) {
        self.0.push(key.to_string());
    }

    /// Appends a sequence index in place (paired with [`KeyPath::pop`]).
    pub fn push_index(&mut self, i: usize) {
        self.0.push(format!("[{i}]"));
    }

    /// Removes the last segment.
    pub fn pop(&mut self) {
        self.0.pop();
    }

    /// The number of segments.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the root.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The segments, indexes written `[n]`.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// Whether the path has exactly the pattern's segments, `*` matching any one.
    /// Patterns come split (`&["services", "*", "ports"]`): the merge and
    /// unicity rules compare every path they visit with dozens of patterns, and
    /// splitting a dotted pattern on each comparison dominated loading time.
    pub fn matches(&self, pattern: &[&str]) -> bool {
        self.0.len() == pattern.len()
            && pattern
                .iter()
                .zip(&self.0)
                .all(|(p, seg)| *p == "*" || p == seg)
    }

    /// Whether `prefix` is this path or one of its ancestors.
    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.len() >= prefix.0.len() && self.0[..prefix.0.len()] == prefix.0[..]
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            if i > 0 && !seg.starts_with('[') {
                f.write_str(".")?;
            }
            f.write_str(seg)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_and_matches() {
        let p = KeyPath::root()
            .key("services")
            .key("web")
            .key("ports")
            .index(1);
        assert_eq!(p.to_string(), "services.web.ports[1]");
        assert!(p.matches(&["services", "*", "ports", "*"]));
        assert!(!p.matches(&["services", "*", "ports"]));
        assert!(KeyPath::root()
            .key("services")
            .key("a")
            .key("command")
            .matches(&["services", "*", "command"]));
    }
}
