//! Ctrl-C (a real SIGINT) while `up` is still converging: berth finishes what it
//! is doing, stops before the next container, exits 130, and the next `up` and
//! `down` find a state they can carry on from.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{states, World};

#[test]
fn sigint_while_up_waits_stops_gracefully_and_exits_130() {
    let w = World::new();
    let p = w.project(
        "upint",
        r#"
services:
  db:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    depends_on:
      db:
        condition: service_healthy
"#,
    );
    let mut up = w
        .berth_command(&p, &["up", "-d"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // db runs and never turns healthy on its own: `up` is waiting to make web.
    w.wait_until(60, "db running", || {
        states(&w, &p).get("upint-db-1").map(String::as_str) == Some("running")
    });
    // SAFETY: kill on the pid of our own unreaped child.
    assert_eq!(unsafe { libc::kill(up.id() as i32, libc::SIGINT) }, 0);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = up.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = up.kill();
            panic!("up still running 20s after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut up.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    // Nothing after the interrupted step was made; what was made is whole.
    let st = states(&w, &p);
    assert_eq!(st.get("upint-db-1").map(String::as_str), Some("running"));
    assert!(!st.contains_key("upint-web-1"), "{st:?}");

    // The next `up` carries on from there.
    w.ok(&p, &["exec", "-T", "db", "touch", "/tmp/ready"]);
    w.ok(&p, &["up", "-d"]);
    let st = states(&w, &p);
    assert_eq!(st.get("upint-web-1").map(String::as_str), Some("running"));
    w.ok(&p, &["down", "-t", "0"]);
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}
