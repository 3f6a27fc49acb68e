//! docker compose's `pkg/e2e/pull_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image: `alpine` tags become
//! `IMAGE`, and what the Go test checked with `docker exec`/`inspect` a container
//! checks from the inside and prints to its log. Tests not named `test_*` are
//! berth's own, on the same commands.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

//! Docker Hub is replaced by a `docker-registry` on loopback holding the
//! busybox image under the tags the fixtures name.

mod common;
mod image_support;

use common::scenario::run;
use common::World;
use image_support::{busybox_layout, Registry};

/// A registry holding the busybox image as `alpine:<tag>` for each of `tags`.
fn registry(tags: &[&str]) -> Registry {
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", "v1");
    for tag in tags {
        reg.push_layout(layout.path(), "v1", &format!("alpine:{tag}"), false);
    }
    reg
}

/// The fixture with `REG` replaced by the registry's host.
fn project(w: &World, name: &str, reg: &Registry, yaml: &str) -> std::path::PathBuf {
    let p = w.project(name, &yaml.replace("REG", &reg.host()));
    std::fs::write(p.join("Dockerfile"), "FROM alpine:3.15\n").unwrap();
    p
}

// SCENARIOS.md § TestComposePull (pull_test.go): pull must always pull, whether
// or not the image is present locally.
#[test]
fn test_compose_pull() {
    let reg = registry(&["3.14", "3.15"]);
    let w = World::new();
    let p = project(
        &w,
        "composepull",
        &reg,
        r#"
services:
  simple:
    image: REG/alpine:3.14
    command: top
  another:
    image: REG/alpine:3.15
    command: top
"#,
    );
    let host = reg.host();
    // start without the images in the local store
    w.ok(&p, &["down", "--rmi", "all"]);
    // pull fetches every service image
    for round in ["first", "second"] {
        let (code, out, err) = run(&w, &p, &["pull"]);
        let all = format!("{out}{err}");
        assert_eq!(code, 0, "{round}: {all}");
        assert!(
            all.contains(&format!("Image {host}/alpine:3.14 Pulled")),
            "{round}: {all}"
        );
        assert!(
            all.contains(&format!("Image {host}/alpine:3.15 Pulled")),
            "{round}: {all}"
        );
    }
    w.ok(&p, &["down", "--rmi", "all"]);
    w.assert_clean();
}

// SCENARIOS.md § TestPullImagePresentLocally (pull_test.go): with pull_policy
// missing, a present image is skipped but a :latest tag is still pulled.
#[test]
fn test_pull_image_present_locally() {
    let reg = registry(&["3.13.12", "latest"]);
    let w = World::new();
    let p = project(
        &w,
        "pullpresent",
        &reg,
        r#"
services:
  simple:
    image: REG/alpine:3.13.12
    pull_policy: missing
    command: top
  latest:
    image: REG/alpine:latest
    pull_policy: missing
    command: top
"#,
    );
    let host = reg.host();
    // warm the local store
    w.ok(&p, &["pull"]);
    // a second pull skips the pinned tag and refreshes latest
    let (code, out, err) = run(&w, &p, &["pull"]);
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "{all}");
    assert!(
        all.contains(&format!(
            "{host}/alpine:3.13.12 Skipped Image is already present locally"
        )),
        "{all}"
    );
    assert!(
        all.contains(&format!("{host}/alpine:latest Pulled")),
        "{all}"
    );
    w.ok(&p, &["down", "--rmi", "all"]);
    w.assert_clean();
}

// SCENARIOS.md § TestPullNoImageNameGiven (pull_test.go): pull must skip a
// build-only service instead of failing.
#[test]
fn test_pull_no_image_name_given() {
    let reg = registry(&["3.15"]);
    let w = World::new();
    let p = project(
        &w,
        "pullnoimage",
        &reg,
        r#"
services:
  no-image-service:
    build: .
"#,
    );
    // pull reports there is nothing to pull
    let (code, out, err) = run(&w, &p, &["pull"]);
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("Skipped No image to be pulled"), "{all}");
    w.assert_clean();
}

const FAILURE_FIXTURE: &str = r#"
services:
  fail:
    image: REG/does_not_exists
  can_build:
    image: REG/doesn_t_exists_either
    build: .
  valid:
    image: REG/alpine:3.15
"#;

// SCENARIOS.md § TestPullFailure (pull_test.go): pull must fail when a service
// image cannot be pulled. Docker Hub answers `denied` for a repository it does
// not have, which docker words "pull access denied for …"; a registry of its
// own answers NAME_UNKNOWN, which docker words as not found: so does berth.
#[test]
fn test_pull_failure() {
    let reg = registry(&["3.15"]);
    let w = World::new();
    let p = project(&w, "pullfailure", &reg, FAILURE_FIXTURE);
    // pull reports the denied image and fails
    let (code, out, err) = run(&w, &p, &["pull"]);
    let all = format!("{out}{err}");
    assert_eq!(code, 1, "{all}");
    assert!(
        all.lines().any(|l| l.contains("Error")
            && l.contains(&format!("{}/does_not_exists", reg.host()))
            && l.contains("not found")),
        "{all}"
    );
    assert!(
        all.contains(&format!("Image {}/alpine:3.15 Pulled", reg.host())),
        "{all}"
    );
    w.ok(&p, &["down", "--rmi", "all"]);
    w.assert_clean();
}

// SCENARIOS.md § TestPullIgnoreFailures (pull_test.go): pull
// --ignore-pull-failures must succeed and point at the services to build.
#[test]
fn test_pull_ignore_failures() {
    let reg = registry(&["3.15"]);
    let w = World::new();
    let p = project(&w, "pullignore", &reg, FAILURE_FIXTURE);
    // pull succeeds despite the missing image
    let (code, out, err) = run(&w, &p, &["pull", "--ignore-pull-failures"]);
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "{all}");
    assert!(
        all.contains("Some service image(s) must be built from source by running:"),
        "{all}"
    );
    assert!(
        all.contains(&format!("Image {}/alpine:3.15 Pulled", reg.host())),
        "{all}"
    );
    w.ok(&p, &["down", "--rmi", "all"]);
    w.assert_clean();
}
