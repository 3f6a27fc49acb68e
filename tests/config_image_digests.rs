//! `config --resolve-image-digests` and `--lock-image-digests`: image references
//! pinned from berth's image store, or from the registry for images it does not
//! have; a clear error naming the image when neither knows it.

mod common;
mod image_support;

use berth::image::{Client, Reference, RegistryOptions, Store};
use common::{fails, World, IMAGE};
use image_support::Registry;

#[test]
fn config_pins_images_from_the_store_and_the_registry() {
    let reg = Registry::start(false);
    let w = World::new();
    // The registry has a copy of the test image under another name, which the
    // store does not know.
    let store = Store::open(w.root()).unwrap();
    let img = store.find(IMAGE).unwrap();
    let remote = format!("{}/pinned/busybox:v1", reg.host());
    let target = Reference::parse(&remote).unwrap();
    let client = Client::new(RegistryOptions::default());
    let pushed = berth::image::push::push(&store, &client, &img, &target, &|_, _| {}).unwrap();

    let p = w.project(
        "digests",
        &format!(
            "services:\n  local:\n    image: IMAGE\n  remote:\n    image: {remote}\n  pinned:\n    image: {remote}@{}\n",
            pushed.digest
        ),
    );
    let local = format!("localhost/busybox:test@{}", img.digest);
    let remote_pinned = format!("{remote}@{}", pushed.digest);

    let out = w.ok(&p, &["config", "--resolve-image-digests"]);
    assert!(out.contains(&format!("    image: {local}\n")), "{out}");
    assert!(
        out.contains(&format!("    image: {remote_pinned}\n")),
        "{out}"
    );
    // The rest of the model is printed as without the flag.
    assert!(
        out.contains("networks:\n  default:\n    name: digests_default\n"),
        "{out}"
    );

    let out = w.ok(&p, &["config", "--lock-image-digests"]);
    assert_eq!(
        out,
        format!(
            "services:\n  local:\n    image: {local}\n  pinned:\n    image: {remote_pinned}\n  remote:\n    image: {remote_pinned}\n"
        )
    );
    let out = w.ok(&p, &["config", "--lock-image-digests", "--no-interpolate"]);
    assert!(
        out.contains(&format!("  remote:\n    image: {remote_pinned}\n")),
        "{out}"
    );

    // The lock file is an override: merged over the project, it pins it.
    std::fs::write(p.join("lock.yaml"), &out).unwrap();
    let merged = w.ok(
        &p,
        &[
            "-f",
            "compose.yaml",
            "-f",
            "lock.yaml",
            "config",
            "--images",
        ],
    );
    assert!(merged.contains(&local), "{merged}");
}

#[test]
fn config_names_the_image_it_cannot_pin() {
    let reg = Registry::start(false);
    let w = World::new();
    let missing = format!("{}/nowhere/app:v1", reg.host());
    let p = w.project(
        "unpinnable",
        &format!("services:\n  app:\n    image: {missing}\n"),
    );
    let err = fails(&w, &p, &["config", "--resolve-image-digests"]);
    assert!(
        err.contains(&format!("failed to resolve digest for {missing}")),
        "{err}"
    );
}
