//! `berth events`: a live stream of the project's container events, as `docker
//! compose events` prints them, from a journal the CLI and the supervisors append to.
//!
//! Each test starts `berth events` as a child and reads its stdout line by line
//! (a reader thread feeding a channel), waiting for each expected event with a
//! timeout; the child is killed by a guard even when the test fails.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::World;
use serde_json::Value;

/// A running `berth events`, killed and reaped on drop.
struct EventsChild {
    child: Child,
    lines: Receiver<String>,
    /// Every line read so far.
    seen: Vec<String>,
    /// Per service, how far into `seen` its expected events were matched: services'
    /// events interleave in any order, each service's own come in order.
    cursor: std::collections::HashMap<String, usize>,
}

impl EventsChild {
    /// Starts `berth events ARGS` in `dir` and waits until it is following the
    /// journal (its inotify descriptor exists), so nothing after this is missed.
    fn start(w: &World, dir: &Path, args: &[&str]) -> EventsChild {
        let mut child = w
            .berth_command(dir, &[&["events"], args].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let pid = child.id();
        let ev = EventsChild {
            child,
            lines: rx,
            seen: vec![],
            cursor: Default::default(),
        };
        w.wait_until(20, "berth events to watch its journal", || {
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|d| {
                    d.flatten().any(|e| {
                        std::fs::read_link(e.path())
                            .is_ok_and(|l| l.to_string_lossy().contains("inotify"))
                    })
                })
                .unwrap_or(false)
        });
        ev
    }

    /// The next line, or None once `deadline` passes.
    fn next_line(&mut self, deadline: Instant) -> Option<String> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(l) => {
                self.seen.push(l.clone());
                Some(l)
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// The next event of `service` with `action`, after the last one expected for that
    /// service (from what was already read, else reading on); returns it.
    fn expect(&mut self, service: &str, action: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut i = self.cursor.get(service).copied().unwrap_or(0);
        loop {
            while i < self.seen.len() {
                let line = &self.seen[i];
                i += 1;
                let v: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
                if v["service"] == service && v["action"] == action {
                    self.cursor.insert(service.to_string(), i);
                    return v;
                }
            }
            if self.next_line(deadline).is_none() {
                panic!(
                    "no {action} event for {service}; saw:\n{}",
                    self.seen.join("\n")
                );
            }
        }
    }

    /// The actions seen so far for `service`, in order.
    fn actions_of(&self, service: &str) -> Vec<String> {
        self.seen
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["service"] == service)
            .map(|v| v["action"].as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for EventsChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ids of the project's containers by service, from `ps`.
fn id_of(w: &World, p: &Path, service: &str) -> String {
    w.ps(p)
        .into_iter()
        .find(|c| c["Service"] == service)
        .and_then(|c| c["ID"].as_str().map(String::from))
        .unwrap_or_else(|| panic!("no container for {service}"))
}

#[test]
fn json_stream_reports_the_lifecycle_of_every_container() {
    let w = World::new();
    let p = w.project(
        "evlife",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    labels:
      org.example.team: core
  checked:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  crashy:
    image: IMAGE
    command: ["sh", "-c", "exit 3"]
    restart: on-failure:1
"#,
    );
    let mut ev = EventsChild::start(&w, &p, &["--json"]);
    w.ok(&p, &["up", "-d"]);

    let create = ev.expect("web", "create");
    let keys: Vec<&str> = create
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        ["action", "attributes", "id", "service", "time", "type"],
        "docker compose's keys, in Go's map order"
    );
    assert_eq!(create["type"], "container");
    assert_eq!(create["attributes"]["name"], "evlife-web-1");
    assert_eq!(create["attributes"]["image"], common::IMAGE);
    assert_eq!(create["attributes"]["org.example.team"], "core");
    assert!(
        create["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("com.docker.compose.")),
        "compose's own labels are left out: {create}"
    );
    let web_id = id_of(&w, &p, "web");
    let id = create["id"].as_str().unwrap();
    assert!(
        id.len() == 64 && id.starts_with(&web_id),
        "{id} vs {web_id}"
    );
    let time = create["time"].as_str().unwrap();
    assert!(
        time.len() > 20 && time.as_bytes()[10] == b'T',
        "RFC 3339 time: {time}"
    );
    ev.expect("web", "start");

    // A process that exits 3 under on-failure: die with its code, then started again.
    let die = ev.expect("crashy", "die");
    assert_eq!(die["attributes"]["exitCode"], "3");
    ev.expect("crashy", "start");
    ev.expect("crashy", "die");

    let healthy = ev.expect("checked", "health_status: healthy");
    assert_eq!(healthy["attributes"]["name"], "evlife-checked-1");

    // An exec: created, started, died with its code, one exec id throughout.
    let out = w.berth_in(&p, &["exec", "-T", "web", "sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4));
    let created = ev.expect("web", "exec_create: sh -c exit 4");
    let started = ev.expect("web", "exec_start: sh -c exit 4");
    let died = ev.expect("web", "exec_die");
    assert_eq!(died["attributes"]["exitCode"], "4");
    let exec_id = &created["attributes"]["execID"];
    assert!(exec_id.as_str().is_some_and(|i| i.len() == 64), "{created}");
    assert_eq!(&started["attributes"]["execID"], exec_id);
    assert_eq!(&died["attributes"]["execID"], exec_id);

    w.ok(&p, &["pause", "web"]);
    ev.expect("web", "pause");
    w.ok(&p, &["unpause", "web"]);
    ev.expect("web", "unpause");

    w.ok(&p, &["restart", "web"]);
    ev.expect("web", "restart");
    let web = ev.actions_of("web");
    let tail: Vec<&str> = web[web.len() - 5..].iter().map(String::as_str).collect();
    assert_eq!(tail, ["kill", "die", "stop", "start", "restart"]);

    w.ok(&p, &["stop", "web"]);
    let kill = ev.expect("web", "kill");
    assert_eq!(kill["attributes"]["signal"], "15");
    let die = ev.expect("web", "die");
    // init forwards SIGTERM to sleep, which dies of it: 128 + 15.
    assert_eq!(die["attributes"]["exitCode"], "143");
    ev.expect("web", "stop");

    w.ok(&p, &["down"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !["web", "checked", "crashy"]
        .iter()
        .all(|s| ev.actions_of(s).last().is_some_and(|a| a == "destroy"))
    {
        assert!(
            ev.next_line(deadline).is_some(),
            "not every container destroyed; saw:\n{}",
            ev.seen.join("\n")
        );
    }
    drop(ev);
    w.assert_clean();
}

#[test]
fn naming_a_service_shows_only_its_events() {
    let w = World::new();
    let p = w.project(
        "evfilter",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
  other:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
"#,
    );
    let mut ev = EventsChild::start(&w, &p, &["--json", "web"]);
    w.ok(&p, &["up", "-d"]);
    // `other` is stopped first: its events are in the journal before web's stop.
    w.ok(&p, &["stop", "other"]);
    w.ok(&p, &["stop", "web"]);
    ev.expect("web", "stop");
    let services: Vec<Value> = ev
        .seen
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["service"].clone())
        .collect();
    assert!(services.iter().all(|s| s == "web"), "{:?}", ev.seen);
    assert_eq!(
        ev.actions_of("web"),
        ["create", "start", "kill", "die", "stop"]
    );

    let out = w.berth_in(&p, &["events", "nosuch"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such service: nosuch"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(ev);
    w.ok(&p, &["down"]);
    w.assert_clean();
}

/// `2006-01-02 15:04:05.000000 container ACTION ID (k=v, …)`.
fn is_text_event(line: &str, action: &str) -> bool {
    let b = line.as_bytes();
    let time_ok = line.len() > 27
        && b[..26].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            _ => c.is_ascii_digit(),
        });
    let rest: Vec<&str> = line.get(27..).unwrap_or("").splitn(4, ' ').collect();
    time_ok
        && rest.len() == 4
        && rest[0] == "container"
        && rest[1] == action
        && rest[2].len() == 64
        && rest[3].starts_with('(')
        && rest[3].ends_with(')')
}

#[test]
fn text_lines_have_composes_shape_and_ctrl_c_exits_zero() {
    let w = World::new();
    let p = w.project(
        "evtext",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
"#,
    );
    let mut ev = EventsChild::start(&w, &p, &[]);
    w.ok(&p, &["up", "-d"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let create = ev.next_line(deadline).expect("a create line");
    assert!(is_text_event(&create, "create"), "{create:?}");
    assert!(
        create.contains("image=localhost/busybox:test") && create.contains("name=evtext-web-1"),
        "{create:?}"
    );
    assert!(!create.contains("com.docker.compose."), "{create:?}");
    // compose prints each event with its own newline and then Println's.
    assert_eq!(ev.next_line(deadline).as_deref(), Some(""));
    let start = ev.next_line(deadline).expect("a start line");
    assert!(is_text_event(&start, "start"), "{start:?}");

    // Ctrl-C ends the stream cleanly.
    // SAFETY: kill on the pid of our own unreaped child.
    unsafe { libc::kill(ev.child.id() as i32, libc::SIGINT) };
    let status = ev.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");

    // --since/--until replay the journal and return.
    let out = w.ok(&p, &["events", "--json", "--since", "10m", "--until", "0s"]);
    let actions: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(actions, ["create", "start"]);

    drop(ev);
    w.ok(&p, &["down"]);
    w.assert_clean();
}

#[test]
fn health_probes_are_execs_and_attach_clients_come_and_go() {
    let w = World::new();
    let p = w.project(
        "evprobe",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
"#,
    );
    let mut ev = EventsChild::start(&w, &p, &["--json"]);
    w.ok(&p, &["up", "-d"]);
    // Each probe is an exec, as docker reports it: created, started, died, one id.
    let created = ev.expect("web", "exec_create: true");
    let started = ev.expect("web", "exec_start: true");
    let died = ev.expect("web", "exec_die");
    assert_eq!(died["attributes"]["exitCode"], "0");
    let exec_id = &created["attributes"]["execID"];
    assert!(exec_id.as_str().is_some_and(|i| i.len() == 64), "{created}");
    assert_eq!(&started["attributes"]["execID"], exec_id);
    assert_eq!(&died["attributes"]["execID"], exec_id);
    ev.expect("web", "health_status: healthy");

    // A client attaches, then goes away while the container runs on.
    let mut attach = w
        .berth_command(&p, &["attach", "web"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ev.expect("web", "attach");
    attach.kill().unwrap();
    attach.wait().unwrap();
    ev.expect("web", "detach");

    w.ok(&p, &["down", "-t", "1"]);
    ev.expect("web", "destroy");
    drop(ev);
    w.assert_clean();
}
