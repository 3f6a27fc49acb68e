//! Test-only fault injection: `BERTH_FAULT=<point>[,<point>…]` makes the process
//! SIGKILL itself when it reaches a named point, so a test can reproduce "killed
//! exactly between these two steps" deterministically. Compiled in, inert unless set.
//!
//! Points are named `<command or layer>:<where>`, e.g. `net:after-nft-delete`.

/// The environment variable naming the points at which to die.
pub const ENV: &str = "BERTH_FAULT";

/// Whether `point` is armed in `spec` (a comma-separated list).
fn armed(spec: &str, point: &str) -> bool {
    spec.split(',').any(|p| p.trim() == point)
}

/// Dies by SIGKILL here when `point` is armed: no destructor, no flush, as a
/// `kill -9` from outside would leave things.
pub fn point(point: &str) {
    let Some(spec) = std::env::var_os(ENV) else {
        return;
    };
    if armed(&spec.to_string_lossy(), point) {
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught, so nothing runs after.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_armed_by_exact_name_in_the_list() {
        assert!(armed(
            "down:after-stop,net:after-nft-delete",
            "net:after-nft-delete"
        ));
        assert!(!armed("net:after-nft", "net:after-nft-delete"));
        assert!(!armed("", "x"));
        // Unset: nothing happens.
        point("never-armed-in-tests");
    }
}
