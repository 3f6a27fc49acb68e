//! Where the shared conformance fixtures are (`../shared/conformance`, beside
//! the repository or beside a worktree's parent).
//!
//! Their absence fails the test that needs them: a conformance suite that
//! silently passes without its fixtures proves nothing. Set
//! `BERTH_SKIP_CONFORMANCE=1` to skip those tests on purpose.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The variable that turns a missing fixture tree into a skip.
pub const SKIP_VAR: &str = "BERTH_SKIP_CONFORMANCE";

/// `../shared/conformance/<sub>` (canonical), `None` when it is missing and
/// `BERTH_SKIP_CONFORMANCE=1` says to skip; panics when it is missing otherwise.
pub fn conformance(sub: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut shared = Vec::new();
    if let Ok(dir) = std::env::var("BERTH_SHARED_DIR") {
        shared.push(PathBuf::from(dir));
    }
    shared.push(root.join("../shared"));
    shared.push(root.join("../../shared"));
    let found = shared
        .into_iter()
        .map(|r| r.join("conformance").join(sub))
        .find(|d| d.exists())
        .and_then(|d| d.canonicalize().ok());
    if found.is_none() {
        let shown = root.join("../shared/conformance").join(sub);
        if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
            eprintln!("skipping: {} not found ({SKIP_VAR}=1)", shown.display());
        } else {
            panic!(
                "conformance fixtures {} not found; set {SKIP_VAR}=1 to skip these tests",
                shown.display()
            );
        }
    }
    found
}
