//! docker compose's `pkg/e2e/cancel_test.go` scenario, run against berth.
//!
//! Fixture adapted from docker/compose@f729794 pkg/e2e/fixtures/build-infinite
//! (Apache-2.0): `busybox` becomes the busybox test image.

mod common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{World, IMAGE};

// cancel_test.go § TestComposeCancel: Ctrl-C (SIGINT to the process group, as a
// terminal sends it) during a build's endless RUN step stops the build and berth
// exits 130 within seconds, leaving nothing of the step behind.
#[test]
fn test_compose_cancel() {
    let w = World::new();
    let p = w.project(
        "buildinfinite",
        "services:\n    service1:\n        build: service1\n",
    );
    fs::create_dir(p.join("service1")).unwrap();
    fs::write(
        p.join("service1/Dockerfile"),
        format!("FROM {IMAGE}\n\nRUN sleep infinity\n"),
    )
    .unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = w
        .berth_command(&p, &["build", "--progress", "plain"])
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(out.reopen().unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let text = || fs::read_to_string(out.path()).unwrap_or_default();
    w.wait_until(60, "'RUN sleep infinity' in the output", || {
        text().contains("RUN sleep infinity")
    });
    // SAFETY: signals the process group of our own child.
    assert_eq!(unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) }, 0);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            // docker compose's test allows 10 s; CI's two cores under the whole
            // suite's load get twice that.
            t0.elapsed() < Duration::from_secs(20),
            "berth did not exit 20 s after Ctrl-C:\n{}",
            text()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130), "{}", text());
    // Nothing of the step is left: no process of this root, no mount.
    w.assert_clean();
}
