//! slirp4netns, when pasta is not installed (or `BERTH_ROOTLESS_NETWORK_CMD`
//! asks for it): a user-mode NAT gives the user's network namespace a tap
//! interface `tap0` (10.0.2.100/24, default route via 10.0.2.2, MTU 65520, as
//! RootlessKit and podman configure it; the host's loopback closed to the
//! namespace), and published ports are bound on the host through its API
//! socket (`add_hostfwd` to the same port on 10.0.2.100, where berth's DNAT in
//! the namespace takes them to the container).
//!
//! Unlike pasta, slirp4netns takes port changes while it runs: `reconcile`
//! lists what it forwards and adds or removes the difference.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use super::net_helper::{kill, running, Kind};
use super::pasta::Forward;

/// The interface slirp4netns creates in the namespace.
pub const TAP: &str = "tap0";

fn socket_path(run: &Path) -> PathBuf {
    super::holder::dir(run).join("slirp4netns.sock")
}

fn log_path(run: &Path) -> PathBuf {
    super::holder::dir(run).join("slirp4netns.log")
}

/// Forgets the API socket of a slirp4netns that is gone.
pub(super) fn forget(run: &Path) {
    let _ = fs::remove_file(socket_path(run));
}

/// Its options, before the target pid and the tap name.
pub fn args(api_socket: &Path, ready_fd: i32) -> Vec<String> {
    vec![
        "--configure".into(),
        // RootlessKit's and podman's choice: fewer, larger segments through
        // the user-mode stack.
        "--mtu=65520".into(),
        // The namespace must not reach services bound to the host's 127.0.0.1.
        "--disable-host-loopback".into(),
        format!("--api-socket={}", api_socket.display()),
        format!("--ready-fd={ready_fd}"),
    ]
}

/// One `add_hostfwd` request's arguments for `f`.
pub fn hostfwd(f: &Forward) -> Value {
    json!({
        "proto": f.proto,
        "host_addr": f.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string()),
        "host_port": f.port,
        "guest_port": f.port,
    })
}

/// The key a listed or wanted forward is compared by.
fn key(v: &Value) -> (String, String, u64, u64) {
    (
        v["proto"].as_str().unwrap_or_default().to_string(),
        v["host_addr"].as_str().unwrap_or_default().to_string(),
        v["host_port"].as_u64().unwrap_or(0),
        v["guest_port"].as_u64().unwrap_or(0),
    )
}

/// One API call: the request, then the `return` value or the error it names.
fn call(sock: &Path, req: &Value) -> Result<Value, String> {
    let at = |e: std::io::Error| format!("slirp4netns API {}: {e}", sock.display());
    let mut s = UnixStream::connect(sock).map_err(at)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(at)?;
    s.write_all(req.to_string().as_bytes()).map_err(at)?;
    s.shutdown(std::net::Shutdown::Write).map_err(at)?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(at)?;
    let v: Value =
        serde_json::from_str(&out).map_err(|e| format!("slirp4netns API answered {out:?}: {e}"))?;
    if let Some(e) = v.get("error") {
        return Err(e["desc"].as_str().unwrap_or("an error").to_string());
    }
    // slirp4netns 1.2 answers `list_hostfwd` with the entries bare, the others
    // inside `return`.
    Ok(match v.get("return") {
        Some(r) => r.clone(),
        None => v,
    })
}

/// Starts slirp4netns for the holder `holder_pid` and waits until the
/// namespace is configured.
fn start(run: &Path, bin: &Path, holder_pid: i32) -> Result<(), String> {
    let sock = socket_path(run);
    let _ = fs::remove_file(&sock);
    let log =
        fs::File::create(log_path(run)).map_err(|e| format!("{}: {e}", log_path(run).display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!(
            "pipe for slirp4netns: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: both descriptors are fresh and owned by nothing else.
    let (ready_r, ready_w) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let w = ready_w.as_raw_fd();
    let mut cmd = Command::new(bin);
    cmd.args(args(&sock, w))
        .arg(holder_pid.to_string())
        .arg(TAP)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    // SAFETY: between fork and exec only async-signal-safe calls: setsid (so
    // that the terminal's signals do not reach it) and fcntl (the ready pipe
    // is the one descriptor it inherits beyond the standard three).
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if libc::fcntl(w, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let child = cmd.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
    drop(ready_w);
    let pid = child.id() as i32;
    // The child lives on after this process (it is reparented); its pid file
    // is how later commands find and stop it.
    drop(child);
    let mut pfd = libc::pollfd {
        fd: ready_r.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd we own; the pipe turns readable when slirp4netns
    // writes its ready byte, or at end of file when it exits first.
    unsafe { libc::poll(&mut pfd, 1, 10_000) };
    let mut b = [0u8; 1];
    let got = fs::File::from(ready_r).read(&mut b).unwrap_or(0);
    if got == 0 {
        // SAFETY: kill of the child we started; it may already be gone.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let msg = fs::read_to_string(log_path(run)).unwrap_or_default();
        let msg = msg
            .lines()
            .filter(|l| !l.starts_with("starting slirp") && !l.starts_with("WARNING"))
            .collect::<Vec<_>>()
            .join("; ");
        let hint = if msg.contains("/dev/net/tun") {
            " (slirp4netns needs /dev/net/tun readable and writable by the user: as root, `chmod 0666 /dev/net/tun`; see `berth doctor`)"
        } else {
            ""
        };
        return Err(format!(
            "slirp4netns did not start: {}{hint}",
            if msg.is_empty() { "no message" } else { &msg }
        ));
    }
    crate::state::atomic::write_atomic(
        &Kind::Slirp4netns.pid_file(run),
        format!("{pid}\n").as_bytes(),
    )
    .map_err(|e| e.to_string())
}

/// Makes the slirp4netns of `run` join the namespace of the holder
/// `holder_pid` to the host (started when none runs) and forward exactly
/// `ports`. Runs in the host's namespaces, under `net_helper`'s lock.
pub(super) fn reconcile(
    run: &Path,
    bin: &Path,
    holder_pid: i32,
    ports: &[Forward],
) -> Result<(), String> {
    if running(run, Kind::Slirp4netns).is_none() {
        kill(run, Kind::Slirp4netns);
        start(run, bin, holder_pid)?;
    }
    let sock = socket_path(run);
    let listed = call(&sock, &json!({"execute": "list_hostfwd"}))?;
    let listed = listed["entries"].as_array().cloned().unwrap_or_default();
    let want: Vec<Value> = ports.iter().map(hostfwd).collect();
    for e in &listed {
        if !want.iter().any(|w| key(w) == key(e)) {
            call(
                &sock,
                &json!({"execute": "remove_hostfwd", "arguments": {"id": e["id"]}}),
            )?;
        }
    }
    let mut failed = Vec::new();
    for (w, f) in want.iter().zip(ports) {
        if listed.iter().any(|e| key(e) == key(w)) {
            continue;
        }
        if let Err(e) = call(&sock, &json!({"execute": "add_hostfwd", "arguments": w})) {
            let at = f.host_ip.map_or(String::new(), |ip| format!("{ip}:"));
            failed.push(format!("{at}{}/{}: {e}", f.port, f.proto));
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "slirp4netns could not bind {} (a host port is taken, or below net.ipv4.ip_unprivileged_port_start)",
        failed.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_forwarded_to_the_same_port_and_any_address_is_0_0_0_0() {
        let f = |ip: Option<&str>, port| Forward {
            proto: "tcp".into(),
            host_ip: ip.map(|i| i.parse().unwrap()),
            port,
        };
        let a = hostfwd(&f(Some("127.0.0.1"), 8080));
        assert_eq!(
            a,
            json!({"proto": "tcp", "host_addr": "127.0.0.1", "host_port": 8080, "guest_port": 8080})
        );
        assert_eq!(hostfwd(&f(None, 9000))["host_addr"], "0.0.0.0");
        // A listed entry carries more fields (id, guest_addr); the key ignores them.
        let listed = json!({"id": 3, "proto": "tcp", "host_addr": "127.0.0.1", "host_port": 8080, "guest_addr": "10.0.2.100", "guest_port": 8080});
        assert_eq!(key(&listed), key(&a));
        let o = args(Path::new("/run/x.sock"), 5);
        assert!(o.contains(&"--disable-host-loopback".to_string()), "{o:?}");
        assert!(o.contains(&"--mtu=65520".to_string()), "{o:?}");
    }
}
