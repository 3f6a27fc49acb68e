//! `exec`, `run`, `pause`/`unpause`, `top`, `stats`, `wait`: a user's interactive
//! session with real containers (as root), including a real pseudo-terminal.

mod common;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::pty::{ask_until, berth_on_pty, read_until, set_size, wait_draining};
use common::World;

const SLEEPER: &str = r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    environment:
      FROM_FILE: compose
"#;

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exec_passes_exit_codes_env_workdir_and_user() {
    let w = World::new();
    let p = w.project("ex", SLEEPER);
    w.ok(&p, &["up", "-d"]);

    let out = w.berth_in(&p, &["exec", "-T", "web", "sh", "-c", "exit 3"]);
    assert_eq!(code(&out), 3, "{:?}", text(&out));

    let out = w.berth_in(
        &p,
        &["exec", "-T", "web", "sh", "-c", "echo out; echo err >&2"],
    );
    assert_eq!(text(&out), ("out\n".into(), "err\n".into()));

    let out = w.ok(
        &p,
        &[
            "exec",
            "-T",
            "-e",
            "EXTRA=1",
            "-e",
            "FROM_FILE=cli",
            "-w",
            "/tmp",
            "-u",
            "nobody",
            "web",
            "sh",
            "-c",
            "echo $FROM_FILE $EXTRA; pwd; id -u",
        ],
    );
    assert_eq!(out, "cli 1\n/tmp\n65534\n");
    let out = w.ok(
        &p,
        &["exec", "-T", "web", "sh", "-c", "echo $FROM_FILE; id -u"],
    );
    assert_eq!(out, "compose\n0\n");

    // -d returns at once; the process runs on in the container.
    w.ok(&p, &["exec", "-d", "web", "sh", "-c", "echo bg > /tmp/bg"]);
    w.wait_until(10, "the detached exec", || {
        w.berth_in(&p, &["exec", "-T", "web", "cat", "/tmp/bg"])
            .stdout
            .starts_with(b"bg")
    });

    let out = w.berth_in(&p, &["exec", "-T", "nosuch", "true"]);
    assert_ne!(code(&out), 0);
    assert!(text(&out).1.contains("\"nosuch\""), "{:?}", text(&out));

    w.ok(&p, &["stop", "-t", "0"]);
    let out = w.berth_in(&p, &["exec", "-T", "web", "true"]);
    assert_eq!(code(&out), 1);
    let err = text(&out).1;
    assert!(err.contains("ex-web-1 is not running"), "{err}");

    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn exec_on_a_terminal_is_a_tty_session() {
    let w = World::new();
    let p = w.project("tty", SLEEPER);
    w.ok(&p, &["up", "-d"]);

    let (mut child, mut mf) = berth_on_pty(&w, &p, &["exec", "web", "sh"]);
    let mut seen = String::new();

    mf.write_all(b"echo hi$((1+1))\n").unwrap();
    // The echo of what was typed, then the output.
    read_until(&mut mf, &mut seen, "echo hi$((1+1))", 20);
    read_until(&mut mf, &mut seen, "hi2", 20);

    mf.write_all(b"tty; stty size\n").unwrap();
    read_until(&mut mf, &mut seen, "/dev/pts/", 20);
    read_until(&mut mf, &mut seen, "24 80", 20);

    // A resize reaches the process inside (SIGWINCH → TIOCSWINSZ on the inner pty).
    set_size(mf.as_raw_fd(), 40, 132);
    let pgrp = child.id() as i32;
    // SAFETY: the terminal's foreground group is the child's session.
    unsafe { libc::kill(-pgrp, libc::SIGWINCH) };
    ask_until(&mut mf, "stty size\n", "40 132");

    mf.write_all(b"exit 5\n").unwrap();
    let status = wait_draining(&mut child, &mut mf, &mut seen);
    assert_eq!(status.code(), Some(5), "{seen:?}");

    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

const WITH_DEP: &str = r#"
services:
  db:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    depends_on: [db]
    ports: ["127.0.0.1:PORT:80"]
    environment:
      FROM_FILE: compose
"#;

#[test]
fn run_starts_dependencies_passes_exit_codes_and_rm_leaves_nothing() {
    let w = World::new();
    let port = common::free_port().to_string();
    let p = w.project("rn", &WITH_DEP.replace("PORT", &port));

    let out = w.berth_in(
        &p,
        &[
            "run",
            "--rm",
            "-e",
            "X=2",
            "web",
            "sh",
            "-c",
            "echo $FROM_FILE $X; echo oops >&2; exit 7",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 7, "{stdout}{stderr}");
    assert_eq!(stdout, "compose 2\n");
    assert!(stderr.contains("oops\n"), "{stderr}");
    // The dependency runs; the one-off is gone.
    let ps = w.ps(&p);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0]["Name"], "rn-db-1");
    assert_eq!(ps[0]["State"], "running");

    let out = w.berth_in(&p, &["run", "--rm", "--no-deps", "web", "true"]);
    assert_eq!(code(&out), 0, "{:?}", text(&out));

    w.ok(&p, &["down", "-t", "0"]);
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}

#[test]
fn run_detached_is_named_and_labelled_as_a_one_off() {
    let w = World::new();
    let port = common::free_port().to_string();
    let p = w.project("rd", &WITH_DEP.replace("PORT", &port));

    let name = w
        .ok(&p, &["run", "-d", "--no-deps", "web"])
        .trim()
        .to_string();
    let hex = name.strip_prefix("rd-web-run-").expect(&name);
    assert_eq!(hex.len(), 12, "{name}");
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
    let named = w
        .ok(&p, &["run", "-d", "--no-deps", "--name", "mine", "web"])
        .trim()
        .to_string();
    assert_eq!(named, "mine");

    let ps = w.ps(&p);
    assert_eq!(ps.len(), 2, "{ps:?}");
    for c in &ps {
        assert_eq!(c["State"], "running", "{c}");
        let labels = c["Labels"].as_str().unwrap();
        assert!(
            labels.contains("com.docker.compose.oneoff=True"),
            "{labels}"
        );
        assert!(
            labels.contains("com.docker.compose.service=web"),
            "{labels}"
        );
        // No `ports:` without --service-ports.
        assert_eq!(c["Publishers"].as_array().map_or(0, |a| a.len()), 0, "{c}");
    }
    // exec reaches a one-off when the service has no replica (TestLocalComposeExecOneOff),
    // but a one-off is never replica #1.
    let out = w.berth_in(&p, &["exec", "-T", "web", "true"]);
    assert_eq!(code(&out), 0);
    let out = w.berth_in(&p, &["exec", "-T", "--index", "1", "web", "true"]);
    assert_ne!(code(&out), 0);

    w.ok(&p, &["down", "-t", "0"]);
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}

#[test]
fn pause_top_stats_and_wait() {
    let w = World::new();
    let p = w.project(
        "pz",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sh", "-c", "while true; do sleep 1; done"]
  job:
    image: IMAGE
    command: ["sh", "-c", "sleep 1; exit 4"]
"#,
    );
    w.ok(&p, &["up", "-d"]);

    w.ok(&p, &["pause", "web"]);
    let web = |w: &World| {
        w.ps(&p)
            .into_iter()
            .find(|c| c["Service"] == "web")
            .unwrap()
    };
    let c = web(&w);
    assert_eq!(c["State"], "paused", "{c}");
    assert!(c["Status"].as_str().unwrap().ends_with("(Paused)"), "{c}");
    // Frozen, not exited: the supervisor keeps it as it is.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(web(&w)["State"], "paused");
    let out = w.berth_in(&p, &["exec", "-T", "web", "true"]);
    assert!(text(&out).1.contains("paused"), "{:?}", text(&out));
    w.ok(&p, &["unpause", "web"]);
    assert_eq!(web(&w)["State"], "running");
    w.ok(&p, &["exec", "-T", "web", "true"]);

    let top = w.ok(&p, &["top", "web"]);
    let mut lines = top.lines();
    assert_eq!(lines.next(), Some("pz-web-1"), "{top}");
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    assert!(top.contains("sh -c while true; do sleep 1; done"), "{top}");

    let stats = w.ok(&p, &["stats", "--no-stream", "web"]);
    let rows: Vec<&str> = stats.lines().collect();
    assert_eq!(rows.len(), 2, "{stats}");
    assert!(rows[0].starts_with("CONTAINER ID"), "{stats}");
    assert!(rows[0].contains("MEM USAGE / LIMIT"), "{stats}");
    assert!(rows[1].contains("pz-web-1"), "{stats}");
    let json = w.ok(&p, &["stats", "--no-stream", "--format", "json", "web"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["Name"], "pz-web-1");
    assert!(v["CPUPerc"].as_str().unwrap().ends_with('%'), "{v}");
    assert!(
        v["PIDs"].as_str().unwrap().parse::<u32>().unwrap() >= 2,
        "{v}"
    );
    assert!(v["MemUsage"].as_str().unwrap().contains(" / "), "{v}");

    let out = w.berth_in(&p, &["wait", "job"]);
    assert_eq!(code(&out), 4, "{:?}", text(&out));
    assert_eq!(text(&out).0, "4\n");

    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn wait_down_project_takes_the_project_down() {
    let w = World::new();
    let p = w.project(
        "wd",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
  job:
    image: IMAGE
    command: ["true"]
"#,
    );
    w.ok(&p, &["up", "-d"]);
    let out = w.berth_in(&p, &["wait", "--down-project", "job", "web"]);
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}
