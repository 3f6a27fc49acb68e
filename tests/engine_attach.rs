//! `run` in the foreground and `attach`: a user's terminal (a real pseudo-terminal
//! here) or pipes joined to a container's stdin and output, as root.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::pty::{ask_until, berth_on_pty, read_until, set_size, wait_draining};
use common::World;

const SHELL: &str = r#"
services:
  shell:
    image: IMAGE
    command: ["sh"]
"#;

const ATTACHABLE: &str = r#"
services:
  shell:
    image: IMAGE
    stdin_open: true
    tty: true
    command: ["sh"]
"#;

/// A child of some container's first process of this root runs `program`.
fn container_runs(w: &World, program: &str) -> bool {
    let Ok(dirs) = std::fs::read_dir(w.root().join("containers")) else {
        return false;
    };
    dirs.flatten().any(|d| {
        // The status lives in the run dir (`<root>/run` under `--root`).
        let status = std::fs::read_to_string(
            w.root()
                .join("run/containers")
                .join(d.file_name())
                .join("status.json"),
        )
        .unwrap_or_default();
        let pid = serde_json::from_str::<serde_json::Value>(&status)
            .ok()
            .and_then(|v| v["pid"].as_u64());
        let Some(pid) = pid else { return false };
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        children.split_whitespace().any(|c| {
            std::fs::read(format!("/proc/{c}/cmdline"))
                .is_ok_and(|cmd| cmd.split(|&b| b == 0).next() == Some(program.as_bytes()))
        })
    })
}

#[test]
fn run_on_a_terminal_is_a_tty_session_that_passes_its_exit_code() {
    let w = World::new();
    let p = w.project("rt", SHELL);
    let (mut child, mut m) = berth_on_pty(&w, &p, &["run", "--rm", "shell"]);
    let mut seen = String::new();

    // Typed input is echoed by the container's terminal, then run.
    m.write_all(b"echo hi$((1+1))\n").unwrap();
    read_until(&mut m, &mut seen, "echo hi$((1+1))", 30);
    read_until(&mut m, &mut seen, "hi2", 20);

    // A terminal of the local one's size from the start.
    m.write_all(b"tty; stty size\n").unwrap();
    read_until(&mut m, &mut seen, "/dev/pts/", 20);
    read_until(&mut m, &mut seen, "24 80", 20);

    // A resize of the local terminal reaches the container's.
    set_size(m.as_raw_fd(), 40, 132);
    // SAFETY: berth leads its own session: signal its process group.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGWINCH) };
    ask_until(&mut m, "stty size\n", "40 132");

    // Ctrl-C goes to the container's shell (raw mode), not to berth.
    m.write_all(b"sleep 30\n").unwrap();
    w.wait_until(20, "sleep to run in the container", || {
        container_runs(&w, "sleep")
    });
    m.write_all(b"\x03").unwrap();
    ask_until(&mut m, "echo al$((1))ive\n", "al1ive");

    m.write_all(b"exit 3\n").unwrap();
    let st = wait_draining(&mut child, &mut m, &mut seen);
    assert_eq!(st.code(), Some(3), "{seen:?}");
    // --rm: nothing of the one-off is left.
    assert!(w.ps(&p).is_empty(), "{:?}", w.ps(&p));
    w.ok(&p, &["down"]);
    w.assert_clean();
}

/// Runs berth with `input` on a pipe as its stdin; returns (code, stdout, stderr).
fn berth_piped(w: &World, dir: &Path, args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = w
        .berth_command(dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn run_with_piped_stdin_feeds_the_container_and_passes_its_exit_code() {
    let w = World::new();
    let p = w.project("rp", SHELL);

    let (code, out, err) = berth_piped(&w, &p, &["run", "-T", "--rm", "shell", "cat"], b"hi\n");
    assert_eq!((code, out.as_str()), (0, "hi\n"), "{err}");

    // Without -T, off a terminal, there is no TTY either; stdout and stderr stay apart.
    let script = "read a; read b; echo got $a $b; echo bad >&2; [ -t 0 ] || exit 4";
    let (code, out, err) = berth_piped(
        &w,
        &p,
        &["run", "--rm", "shell", "sh", "-c", script],
        b"one\ntwo\n",
    );
    assert_eq!((code, out.as_str()), (4, "got one two\n"), "{err}");
    assert!(err.contains("bad\n"), "{err}");

    // -i=false: the container's stdin is empty from the start.
    let (code, out, err) = berth_piped(
        &w,
        &p,
        &["run", "--rm", "--interactive=false", "shell", "cat"],
        b"ignored\n",
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");

    assert!(w.ps(&p).is_empty(), "{:?}", w.ps(&p));
    w.ok(&p, &["down"]);
    w.assert_clean();
}

#[test]
fn attach_types_detaches_with_ctrl_p_ctrl_q_and_sees_the_exit_code() {
    let w = World::new();
    let p = w.project("at", ATTACHABLE);
    w.ok(&p, &["up", "-d"]);

    let (mut child, mut m) = berth_on_pty(&w, &p, &["attach", "shell"]);
    let mut seen = String::new();
    ask_until(&mut m, "echo hi$((1+1))\n", "hi2");
    m.write_all(b"\x10\x11").unwrap();
    let st = wait_draining(&mut child, &mut m, &mut seen);
    assert_eq!(st.code(), Some(0), "{seen:?}");
    let ps = w.ps(&p);
    assert_eq!(
        ps[0]["State"], "running",
        "detaching must not stop it: {ps:?}"
    );

    // Errors name what is wrong.
    let out = w.berth_in(&p, &["attach", "--index", "2", "shell"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not running container #2"), "{err}");
    let out = w.berth_in(&p, &["attach", "--detach-keys", "ctrl-1", "shell"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ctrl-1"));

    // Attached again: the same shell; its exit is attach's exit.
    let (mut child, mut m) = berth_on_pty(&w, &p, &["attach", "shell"]);
    ask_until(&mut m, "echo ag$((1))ain\n", "ag1ain");
    m.write_all(b"exit 3\n").unwrap();
    let st = wait_draining(&mut child, &mut m, &mut seen);
    assert_eq!(st.code(), Some(3), "{seen:?}");
    w.wait_until(20, "the container to be exited", || {
        w.ps(&p)[0]["State"] == "exited"
    });
    let out = w.berth_in(&p, &["attach", "shell"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not running"));

    w.ok(&p, &["down", "-t", "0"]);
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}

const TICKER: &str = r#"
services:
  ticker:
    image: IMAGE
    stdin_open: true
    command: ["sh", "-c", "trap 'echo got TERM; exit 7' TERM; while :; do echo tick; sleep 0.1; done"]
"#;

/// `berth attach` on pipes, its stdout collected by a thread as it arrives.
fn attach_on_pipes(
    w: &World,
    dir: &Path,
    args: &[&str],
) -> (Child, std::sync::Arc<std::sync::Mutex<String>>) {
    let mut child = w
        .berth_command(dir, &[&["attach"], args].concat())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = out.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (child, out)
}

fn wait_exit(child: &mut Child) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "attach did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn attach_proxies_signals_to_the_container_unless_told_not_to() {
    use std::os::unix::process::ExitStatusExt;
    let w = World::new();
    let p = w.project("sp", TICKER);
    w.ok(&p, &["up", "-d"]);

    // Live output reaches the client; SIGTERM to berth reaches the container.
    let (mut child, out) = attach_on_pipes(&w, &p, &["ticker"]);
    w.wait_until(20, "live output", || out.lock().unwrap().contains("tick"));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = wait_exit(&mut child);
    assert_eq!(st.code(), Some(7), "{}", out.lock().unwrap());
    w.wait_until(20, "the output to end", || {
        out.lock().unwrap().contains("got TERM")
    });
    assert_eq!(w.ps(&p)[0]["State"], "exited");

    // --sig-proxy=false: the signal ends the client only.
    w.ok(&p, &["start"]);
    let (mut child, out) = attach_on_pipes(&w, &p, &["--sig-proxy=false", "ticker"]);
    w.wait_until(20, "live output", || out.lock().unwrap().contains("tick"));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = wait_exit(&mut child);
    assert_eq!(st.signal(), Some(libc::SIGTERM));
    assert_eq!(w.ps(&p)[0]["State"], "running");

    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
