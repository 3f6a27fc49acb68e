//! `pull`, `images` and `up` against a real registry on loopback: a project's
//! images come from the registry as `pull_policy` says.

mod common;
mod image_support;

use common::World;
use image_support::{busybox_layout, Registry};

#[test]
fn pull_images_and_up_use_the_registry_as_policies_say() {
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", "v1");
    reg.push_layout(layout.path(), "v1", "test/busybox:v1", false);
    let image = format!("{}/test/busybox:v1", reg.host());

    let w = World::new();
    let p = w.project(
        "pulled",
        &format!(
            r#"
services:
  app:
    image: {image}
    init: true
    command: ["sh", "-c", "/bin/busybox id -u; exec /bin/busybox sleep 3600"]
    # The image's own check is `CMD true`, which this image cannot run.
    healthcheck:
      test: ["CMD", "/bin/busybox", "true"]
      interval: 1s
      start_interval: 100ms
      start_period: 5s
  never:
    image: {image}-absent
    pull_policy: never
    profiles: [extra]
"#
        ),
    );
    let out = w.berth_in(&p, &["pull"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Pulled"), "{err}");

    // A second pull finds the same digest; docker compose says Pulled all the same.
    let out = w.berth_in(&p, &["pull"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Pulled"));

    w.ok(&p, &["up", "-d"]);
    // `images` lists the containers' images, as docker compose does.
    let images = w.ok(&p, &["images"]);
    assert!(
        images.contains("pulled-app-1") && images.contains("test/busybox") && images.contains("v1"),
        "{images}"
    );
    // The service's healthcheck and the image's user (1000) apply.
    w.wait_until(20, "the healthcheck to pass", || {
        w.ps(&p).first().is_some_and(|c| c["Health"] == "healthy")
    });
    w.wait_until(10, "the process to print its uid", || {
        w.ok(&p, &["logs", "--no-log-prefix"]).contains("1000")
    });

    // pull_policy: never and an absent image: a clear error, nothing made.
    let out = w.berth_in(&p, &["--profile", "extra", "up", "-d", "never"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not present and pull_policy is never"),
        "{err}"
    );
    w.ok(&p, &["down"]);
    w.assert_clean();
}
