//! A non-root service can reopen its own stdout and stderr (`/dev/stdout`,
//! `/dev/stderr`), as under docker: nginx's `error_log /dev/stderr` as www-data.

mod common;

use common::World;

#[test]
fn non_root_process_writes_to_dev_stdout_and_dev_stderr() {
    let w = World::new();
    let p = w.project(
        "stdiouser",
        r#"services:
  app:
    image: IMAGE
    user: "65534:65534"
    command: ["sh", "-c", "echo to-stdout > /dev/stdout && echo to-stderr > /dev/stderr && echo done"]
"#,
    );
    let out = w.ok(&p, &["run", "--rm", "-T", "app"]);
    assert!(out.contains("to-stdout\n"), "{out}");
    assert!(out.contains("done\n"), "{out}");
    w.ok(&p, &["up", "-d"]);
    w.wait_until(20, "the service to exit", || {
        common::states(&w, &p).values().all(|s| s == "exited")
    });
    // berth logs, as docker compose's, may split the streams: read both.
    let out = w.berth_in(&p, &["logs", "--no-log-prefix", "app"]);
    assert!(out.status.success());
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for line in ["to-stdout", "to-stderr", "done"] {
        assert!(logs.contains(line), "{line} missing from {logs}");
    }
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
