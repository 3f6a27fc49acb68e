//! Restart policies and crash safety: a killed container with `restart: always`
//! comes back, `on-failure:2` gives up after two restarts, a manual stop is not
//! undone, and a `berth up` killed at any moment is repaired by `up` and `down`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::World;

fn status(w: &World, p: &std::path::Path, name: &str) -> serde_json::Value {
    w.ps(p)
        .into_iter()
        .find(|c| c["Name"] == name)
        .unwrap_or(serde_json::Value::Null)
}

/// The host pid of a container's first process, from its status file.
fn container_pid(w: &World, name: &str) -> Option<i32> {
    for e in std::fs::read_dir(w.root().join("containers"))
        .ok()?
        .flatten()
    {
        let rec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.path().join("container.json")).ok()?).ok()?;
        if rec["name"] == name {
            // The status lives in the run dir (`<root>/run` under `--root`).
            let status = w
                .root()
                .join("run/containers")
                .join(e.file_name())
                .join("status.json");
            let st: serde_json::Value =
                serde_json::from_slice(&std::fs::read(status).ok()?).ok()?;
            return st["pid"].as_i64().map(|p| p as i32);
        }
    }
    None
}

#[test]
fn always_comes_back_after_its_process_is_killed_but_not_after_stop() {
    let w = World::new();
    let p = w.project(
        "always",
        r#"
services:
  svc:
    image: IMAGE
    init: true
    command: ["sh", "-c", "echo started; sleep 3600"]
    restart: always
"#,
    );
    w.ok(&p, &["up", "-d"]);
    // `up -d` returns once the init runs; its shell may not have spoken yet, and
    // a kill before it does would leave one "started" in all.
    w.wait_until(20, "the first run's output", || {
        w.ok(&p, &["logs"]).contains("started")
    });
    let pid = container_pid(&w, "always-svc-1").expect("a running container has a pid");
    // Killed from outside, as the OOM killer or a crash would.
    assert!(Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success());
    w.wait_until(20, "the container to come back", || {
        container_pid(&w, "always-svc-1").is_some_and(|p| p != pid)
            && status(&w, &p, "always-svc-1")["State"] == "running"
    });
    w.wait_until(20, "the second run's output", || {
        w.ok(&p, &["logs"]).matches("started").count() == 2
    });
    w.ok(&p, &["stop", "-t", "1"]);
    assert_eq!(status(&w, &p, "always-svc-1")["State"], "exited");
    w.ok(&p, &["start"]);
    assert_eq!(status(&w, &p, "always-svc-1")["State"], "running");
    w.ok(&p, &["down", "-t", "1"]);
    w.assert_clean();
}

#[test]
fn on_failure_gives_up_after_its_limit() {
    let w = World::new();
    let p = w.project(
        "onfail",
        r#"
services:
  job:
    image: IMAGE
    command: ["sh", "-c", "echo attempt; exit 3"]
    restart: on-failure:2
"#,
    );
    w.ok(&p, &["up", "-d"]);
    w.wait_until(30, "the job to give up", || {
        let s = status(&w, &p, "onfail-job-1");
        s["State"] == "exited" && w.ok(&p, &["logs"]).matches("attempt").count() == 3
    });
    // Give a wrong extra restart the chance to show itself before counting again.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(w.ok(&p, &["logs"]).matches("attempt").count(), 3);
    assert_eq!(status(&w, &p, "onfail-job-1")["ExitCode"], 3);
    w.ok(&p, &["down"]);
    w.assert_clean();
}

#[test]
fn a_killed_up_is_repaired_by_the_next_up_and_down() {
    let w = World::new();
    let mut yaml = String::from("services:\n");
    for i in 0..6 {
        yaml.push_str(&format!(
            "  s{i}:\n    image: IMAGE\n    init: true\n    command: [\"sleep\", \"3600\"]\n    volumes: [\"v{i}:/data\"]\n"
        ));
    }
    yaml.push_str("volumes:\n");
    for i in 0..6 {
        yaml.push_str(&format!("  v{i}:\n"));
    }
    let p = w.project("crash", &yaml);
    for delay_ms in [5u64, 40, 80, 150] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("--root")
            .arg(w.root())
            .args(["up", "-d"])
            .current_dir(&p)
            .env("COMPOSE_PROGRESS", "quiet")
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // The next `up` converges: every service runs exactly once.
        w.ok(&p, &["up", "-d"]);
        let ps = w.ps(&p);
        assert_eq!(ps.len(), 6, "after a kill at {delay_ms} ms: {ps:?}");
        assert!(ps.iter().all(|c| c["State"] == "running"), "{ps:?}");
        // And `down` takes it all away, also after another killed `up`.
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("--root")
            .arg(w.root())
            .args(["up", "-d", "--force-recreate"])
            .current_dir(&p)
            .env("COMPOSE_PROGRESS", "quiet")
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        w.ok(&p, &["down", "-t", "1"]);
        assert!(w.ps(&p).is_empty());
        let left: Vec<_> = std::fs::read_dir(w.root().join("containers"))
            .unwrap()
            .flatten()
            .map(|e| {
                let inside: Vec<_> = std::fs::read_dir(e.path())
                    .map(|d| d.flatten().map(|x| x.file_name()).collect())
                    .unwrap_or_default();
                (e.path(), inside)
            })
            .collect();
        assert!(
            left.is_empty(),
            "container dirs left after a kill at {delay_ms} ms: {left:?}"
        );
        w.assert_clean();
    }
}
