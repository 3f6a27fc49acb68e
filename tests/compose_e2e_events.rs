//! docker compose's `pkg/e2e/events_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see tests/E2E-SCENARIOS.md).
//! berth's own `events` tests are in tests/engine_events.rs.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use common::World;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

// TestEventsUnknownService (events_test.go): `events` for a service the project
// lacks fails at once with docker compose's message instead of waiting.
#[test]
fn test_events_unknown_service() {
    let w = World::new();
    let p = w.project(
        "eventsunknown",
        r#"
services:
  simple:
    image: IMAGE
    command: top
  another:
    image: IMAGE
    command: top
"#,
    );
    // A berth that followed events instead of failing would never end: give it
    // docker compose's ten seconds, then kill it.
    let mut child = w
        .berth_command(&p, &["events", "not-a-service"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("events not-a-service still running after 10s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("no such service: not-a-service"), "{err}");
}
