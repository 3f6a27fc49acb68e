//! Where a user's berth keeps its state: root keeps `/var/lib/berth` and
//! `/run/berth`; any other user gets `~/.local/share/berth` and
//! `$XDG_RUNTIME_DIR/berth`, as rootless docker and podman do.
//!
//! Without `XDG_RUNTIME_DIR` (no logind: `sudo -iu`, `runuser`) the run directory
//! falls back to `<root>/run` inside the user's own 0700 state root, never a
//! shared `/tmp` path another user could pre-create or watch.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Root's state root.
pub const ROOTFUL_ROOT: &str = "/var/lib/berth";
/// Root's run directory.
pub const ROOTFUL_RUN: &str = "/run/berth";

/// The environment the defaults are derived from (a seam for unit tests).
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Whether berth runs rootless (see [`super::is_rootless`]).
    pub rootless: bool,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$XDG_DATA_HOME`.
    pub xdg_data_home: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`, when it is a directory this user owns and nobody else
    /// may enter (what the XDG spec promises; anything else is ignored).
    pub xdg_runtime_dir: Option<PathBuf>,
}

impl Env {
    /// The real process environment.
    pub fn current() -> Env {
        let abs = |k: &str| {
            std::env::var_os(k)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        Env {
            rootless: super::is_rootless(),
            home: abs("HOME"),
            xdg_data_home: abs("XDG_DATA_HOME"),
            xdg_runtime_dir: abs("XDG_RUNTIME_DIR").filter(|p| private_dir(p)),
        }
    }
}

/// Whether `p` is a directory owned by this process's user and closed to others.
pub fn private_dir(p: &Path) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    std::fs::metadata(p)
        .map(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
        .unwrap_or(false)
}

/// The default state root for `env`.
pub fn default_root(env: &Env) -> PathBuf {
    if !env.rootless {
        return PathBuf::from(ROOTFUL_ROOT);
    }
    match (&env.xdg_data_home, &env.home) {
        (Some(d), _) => d.join("berth"),
        (None, Some(h)) => h.join(".local/share/berth"),
        // No $HOME (a stripped environment): the home /etc/passwd names, never a
        // shared path.
        (None, None) => passwd_home(unsafe_uid())
            .unwrap_or_else(|| PathBuf::from("/nonexistent"))
            .join(".local/share/berth"),
    }
}

/// The default run directory for the default root in `env`.
pub fn default_run(env: &Env) -> PathBuf {
    if !env.rootless {
        return PathBuf::from(ROOTFUL_RUN);
    }
    match &env.xdg_runtime_dir {
        Some(d) => d.join("berth"),
        None => default_root(env).join("run"),
    }
}

/// The home directory /etc/passwd gives `uid`.
fn passwd_home(uid: u32) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse() == Ok(uid)).then(|| PathBuf::from(f[5]))
    })
}

fn unsafe_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Env {
        Env {
            rootless: true,
            home: Some("/home/ann".into()),
            xdg_data_home: None,
            xdg_runtime_dir: Some("/run/user/1001".into()),
        }
    }

    #[test]
    fn root_keeps_todays_paths() {
        let env = Env {
            rootless: false,
            ..user()
        };
        assert_eq!(default_root(&env), Path::new("/var/lib/berth"));
        assert_eq!(default_run(&env), Path::new("/run/berth"));
    }

    #[test]
    fn a_user_gets_home_and_runtime_dir() {
        assert_eq!(
            default_root(&user()),
            Path::new("/home/ann/.local/share/berth")
        );
        assert_eq!(default_run(&user()), Path::new("/run/user/1001/berth"));
        let env = Env {
            xdg_data_home: Some("/data/ann".into()),
            ..user()
        };
        assert_eq!(default_root(&env), Path::new("/data/ann/berth"));
    }

    #[test]
    fn without_a_runtime_dir_the_run_dir_stays_in_the_private_root() {
        let env = Env {
            xdg_runtime_dir: None,
            ..user()
        };
        assert_eq!(
            default_run(&env),
            Path::new("/home/ann/.local/share/berth/run")
        );
        assert!(!default_run(&env).starts_with("/tmp"));
    }
}
