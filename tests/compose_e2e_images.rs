//! docker compose's `pkg/e2e/images_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;

use common::scenario::combined;
use common::{states, World, IMAGE};

// images_test.go § TestImagesAfterImageRemoved: images must list containers whose
// image record is gone.
#[test]
fn test_images_after_image_removed() {
    let w = World::new();
    // Written as is: `w.project` would take the variable's name for the image.
    let p = w.project("imagesremoved", "");
    std::fs::write(
        p.join("compose.yaml"),
        r#"
services:
  app:
    image: ${REMOVED_IMAGE}
    pull_policy: never
    init: true
    command: ["sleep", "infinity"]
"#,
    )
    .unwrap();
    let image = "imagesremoved:v1";
    let env = [("REMOVED_IMAGE", image)];
    let ok = |args: &[&str]| {
        let out = w.berth_env(&p, args, &env);
        assert!(out.status.success(), "berth {args:?}:\n{}", combined(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // tag a local image for the service, with the service's tag
    ok(&["image", "tag", IMAGE, image]);
    // up starts the service from the tag
    ok(&["up", "-d"]);
    assert_eq!(states(&w, &p)["imagesremoved-app-1"], "running");
    // remove the image record while the container keeps running
    ok(&["image", "rm", "--force", image]);
    // images still lists the project's container
    let out = ok(&["images"]);
    assert!(out.contains("imagesremoved-app-1"), "{out}");
    assert_eq!(states(&w, &p)["imagesremoved-app-1"], "running");
    ok(&["down", "-t", "0"]);
    w.assert_clean();
}
