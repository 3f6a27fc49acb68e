//! OCI hooks (runtime-spec config.md "POSIX-platform Hooks"): each runs with the
//! container's state JSON on stdin, exactly its own `args` and `env`, and an optional
//! timeout after which it is killed. Who runs them, and where, is the lifecycle's
//! business (container_create, container_start, container_delete, process/init);
//! this module only runs a list in order and says which one failed.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use oci_spec::runtime::{Hook, Spec};

use crate::error::{Error, Result};
use crate::syscall::raw;

/// The hook lists, named as in config.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Deprecated; runs with createRuntime, in the runtime namespace, before pivot_root.
    Prestart,
    /// Runtime namespace, after the container's namespaces and mounts exist.
    CreateRuntime,
    /// Container namespaces, before pivot_root (paths resolve in the runtime's view).
    CreateContainer,
    /// Container namespaces, at `start`, before the user's process is executed.
    StartContainer,
    /// Runtime namespace, after the process started; failures only warn.
    Poststart,
    /// Runtime namespace, after the container is deleted; failures only warn.
    Poststop,
}

impl Kind {
    /// The key in config.json.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }
}

/// The hooks of one kind in `spec`, in order.
pub fn list(spec: &Spec, kind: Kind) -> Vec<Hook> {
    let Some(h) = spec.hooks() else {
        return Vec::new();
    };
    #[allow(deprecated)]
    let l = match kind {
        Kind::Prestart => h.prestart(),
        Kind::CreateRuntime => h.create_runtime(),
        Kind::CreateContainer => h.create_container(),
        Kind::StartContainer => h.start_container(),
        Kind::Poststart => h.poststart(),
        Kind::Poststop => h.poststop(),
    };
    l.clone().unwrap_or_default()
}

/// Whether `spec` has any hook of these kinds.
pub fn any(spec: &Spec, kinds: &[Kind]) -> bool {
    kinds.iter().any(|k| !list(spec, *k).is_empty())
}

/// Run every hook of `kind` in order; the first failure stops the list and is returned.
pub fn run(spec: &Spec, kind: Kind, state: &serde_json::Value) -> Result<()> {
    let input = serde_json::to_vec(state).unwrap_or_default();
    for (i, h) in list(spec, kind).iter().enumerate() {
        run_one(h, &input).map_err(|reason| Error::Hook {
            kind: kind.name(),
            index: i,
            path: h.path().clone(),
            reason,
        })?;
    }
    Ok(())
}

/// Run every hook of `kind`, telling stderr about failures and going on: poststart and
/// poststop failures MUST NOT change the lifecycle, but are not silent either.
pub fn run_warn(spec: &Spec, kind: Kind, state: &serde_json::Value) {
    let input = serde_json::to_vec(state).unwrap_or_default();
    for (i, h) in list(spec, kind).iter().enumerate() {
        if let Err(reason) = run_one(h, &input) {
            let msg = format!(
                "berth-runtime: warning: {} hook {i} ({}): {reason}\n",
                kind.name(),
                h.path().display()
            );
            // SAFETY: writes a valid buffer to fd 2.
            unsafe { libc::write(2, msg.as_ptr() as *const libc::c_void, msg.len()) };
        }
    }
}

fn run_one(h: &Hook, input: &[u8]) -> std::result::Result<(), String> {
    let mut cmd = Command::new(h.path());
    let args = h.args().clone().unwrap_or_default();
    // args[0] is argv[0] (the spec's execv semantics); without args it is the path.
    if let Some((first, rest)) = args.split_first() {
        cmd.arg0(first).args(rest);
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        match e.split_once('=') {
            Some((k, v)) => cmd.env(k, v),
            None => cmd.env(e, ""),
        };
    }
    // The hook's output goes where ours goes; its stdin is the state.
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run: {e}"))?;
    let pidfd = raw::pidfd_open(child.id() as i32).map_err(|e| format!("pidfd_open: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that exits without reading its stdin is fine (EPIPE ignored).
        let _ = stdin.write_all(input);
    }
    let timeout_ms = match h.timeout() {
        Some(t) if t > 0 => t.saturating_mul(1000),
        Some(t) => return Err(format!("timeout must be positive, got {t}")),
        None => -1,
    };
    let deadline = std::time::Instant::now();
    loop {
        let left = if timeout_ms < 0 {
            -1
        } else {
            let spent = deadline.elapsed().as_millis() as i64;
            (timeout_ms - spent).max(0) as i32
        };
        let mut p = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, left) };
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if r == 0 {
            let _ = raw::pidfd_send_signal(&pidfd, libc::SIGKILL);
            let _ = child.wait();
            return Err(format!(
                "timed out after {}s and was killed",
                timeout_ms / 1000
            ));
        }
        break;
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("failed: {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(hooks: serde_json::Value) -> Spec {
        let mut s = crate::spec::default_spec(&["true"]);
        s.set_hooks(Some(serde_json::from_value(hooks).unwrap()));
        s
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("berth-hooks-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn state_on_stdin_args_and_env_exactly() {
        let out = tmp("stdin");
        let s = spec_with(serde_json::json!({"poststart": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {0}; echo \" $0 $FOO ${{HOME:-nohome}}\" >> {0}", out.display())],
            "env": ["FOO=bar"]
        }]}));
        run(
            &s,
            Kind::Poststart,
            &serde_json::json!({"id": "x", "status": "running"}),
        )
        .unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        let _ = std::fs::remove_file(&out);
        assert_eq!(got, "{\"id\":\"x\",\"status\":\"running\"} sh bar nohome\n");
    }

    #[test]
    fn first_failure_stops_the_list_and_names_the_hook() {
        let out = tmp("order");
        let s = spec_with(serde_json::json!({"prestart": [
            {"path": "/bin/sh", "args": ["sh", "-c", format!("echo one >> {}", out.display())]},
            {"path": "/bin/false"},
            {"path": "/bin/sh", "args": ["sh", "-c", format!("echo three >> {}", out.display())]}
        ]}));
        let e = run(&s, Kind::Prestart, &serde_json::json!({})).unwrap_err();
        let got = std::fs::read_to_string(&out).unwrap_or_default();
        let _ = std::fs::remove_file(&out);
        assert_eq!(got, "one\n");
        let msg = e.to_string();
        assert!(
            msg.starts_with("prestart hook 1 (/bin/false): failed"),
            "{msg}"
        );
    }

    #[test]
    fn a_hook_past_its_timeout_is_killed() {
        let s = spec_with(serde_json::json!({"createRuntime": [
            {"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}
        ]}));
        let t = std::time::Instant::now();
        let e = run(&s, Kind::CreateRuntime, &serde_json::json!({})).unwrap_err();
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        assert!(e.to_string().contains("timed out after 1s"), "{e}");
    }

    #[test]
    fn a_missing_hook_is_an_error() {
        let s = spec_with(serde_json::json!({"createContainer": [{"path": "/nonexistent/hook"}]}));
        let e = run(&s, Kind::CreateContainer, &serde_json::json!({})).unwrap_err();
        assert!(e.to_string().contains("cannot run"), "{e}");
    }
}
