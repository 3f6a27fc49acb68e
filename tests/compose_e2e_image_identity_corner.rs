//! docker compose's `pkg/e2e/image_identity_corner_test.go` scenarios, run
//! against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its images served by a `docker-registry` on loopback instead of Docker Hub.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;
mod image_support;

use common::scenario::{combined, ids};
use common::World;
use image_support::{
    base_layer, busybox_layout, desc, finish_layout, host_arch, put_blob, tar_of, write_image,
    Registry,
};

/// A registry on loopback serving the busybox image as `test/busybox:TAG`; its
/// reference.
fn registry_image(tag: &str) -> (Registry, String) {
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", tag);
    reg.push_layout(layout.path(), tag, &format!("test/busybox:{tag}"), false);
    let image = format!("{}/test/busybox:{tag}", reg.host());
    (reg, image)
}

// image_identity_corner_test.go § TestUpDryRunMissingImage: dry-run up with a
// locally-missing image must not resolve it against the store.
#[test]
fn test_up_dry_run_missing_image() {
    let (_reg, image) = registry_image("3.20");
    let w = World::new();
    let p = w.project(
        "dryrunmissing",
        &format!("services:\n  app:\n    image: {image}\n    command: [\"sleep\", \"infinity\"]\n"),
    );
    // make sure the image is not in the local store
    assert!(!w
        .berth_in(&p, &["image", "inspect", &image])
        .status
        .success());
    // dry-run up succeeds on the faked pull
    let out = w.berth_in(&p, &["--dry-run", "up", "-d"]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("No such image"), "{text}");
    // and changes nothing
    assert!(w.ps(&p).is_empty());
    assert!(!w
        .berth_in(&p, &["image", "inspect", &image])
        .status
        .success());
    w.assert_clean();
}

// image_identity_corner_test.go § TestCreateIdempotentDefaultPlatform: with
// DOCKER_DEFAULT_PLATFORM set to a non-native platform, an unchanged create must
// not recreate. The registry serves a two-platform index of the busybox image.
#[test]
fn test_create_idempotent_default_platform() {
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    let l = layout.path();
    let other = if host_arch() == "amd64" {
        "arm64"
    } else {
        "amd64"
    };
    let manifests: Vec<serde_json::Value> = [host_arch(), other]
        .into_iter()
        .map(|arch| write_image(l, &[tar_of(&base_layer())], "gzip", arch, &["sh"]))
        .collect();
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
    let idx = put_blob(l, &serde_json::to_vec(&index).unwrap());
    finish_layout(
        l,
        desc("application/vnd.oci.image.index.v1+json", &idx),
        "3.20",
    );
    reg.push_layout(l, "3.20", "test/alpine:3.20", true);
    let image = format!("{}/test/alpine:3.20", reg.host());

    let w = World::new();
    let p = w.project(
        "createplatform",
        &format!("services:\n  app:\n    image: {image}\n    command: [\"sleep\", \"infinity\"]\n"),
    );
    let platform = format!("linux/{other}");
    let env = [("DOCKER_DEFAULT_PLATFORM", platform.as_str())];
    // start without the image in the local store
    assert!(!w
        .berth_in(&p, &["image", "inspect", &image])
        .status
        .success());
    // create pulls the image and records its identity
    let out = w.berth_env(&p, &["create"], &env);
    assert!(out.status.success(), "{}", combined(&out));
    let inspect: serde_json::Value =
        serde_json::from_str(&w.ok(&p, &["image", "inspect", &image])).unwrap();
    assert_eq!(inspect[0]["Architecture"], other, "{inspect}");
    let before = ids(&w, &p);
    // an unchanged create is a no-op
    let out = w.berth_env(&p, &["create"], &env);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("Recreate"), "{text}");
    assert_eq!(ids(&w, &p), before);
    w.ok(&p, &["down"]);
    w.assert_clean();
}

// image_identity_corner_test.go § TestPullRefreshWindowExplicitPull: an explicit
// pull must refresh the image even when the pull_policy window is not due.
#[test]
fn test_pull_refresh_window_explicit_pull() {
    let (_reg, image) = registry_image("3.18");
    let w = World::new();
    let p = w.project(
        "pullrefresh",
        &format!(
            "services:\n  app:\n    image: {image}\n    pull_policy: daily\n    command: [\"sleep\", \"infinity\"]\n"
        ),
    );
    // make the image fresh: the daily window is not due
    w.ok(&p, &["pull"]);
    // an explicit pull refreshes ahead of the window
    let out = w.berth_in(&p, &["pull"]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Pulled"), "{text}");
    assert!(!text.contains("Skipped"), "{text}");
}
