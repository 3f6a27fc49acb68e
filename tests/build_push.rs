//! A built image pushed to a real `docker-registry` and pulled into another root
//! (diff_ids kept), where it runs.

mod common;
mod image_support;

use berth::image::pull::NoProgress;
use berth::image::{pull, Client, PullOptions, Reference, RegistryOptions, Store};
use common::World;
use image_support::Registry;
use std::fs;

#[test]
fn a_built_image_pushes_and_pulls_elsewhere() {
    let reg = Registry::start(false);
    let w = World::new();
    let p = w.project(
        "pushed",
        "services:\n  app:\n    build: .\n    image: built/app:v1\n",
    );
    fs::write(
        p.join("Dockerfile"),
        format!(
            "FROM {}\nRUN echo built-here > /b\nCOPY f.txt /f.txt\nCMD [\"cat\", \"/b\", \"/f.txt\"]\n",
            common::IMAGE
        ),
    )
    .unwrap();
    fs::write(p.join("f.txt"), "from the context\n").unwrap();
    w.ok(&p, &["build"]);

    let store = Store::open(w.root()).unwrap();
    let img = store.find("built/app:v1").unwrap();
    let diff_ids = img.config.rootfs.diff_ids.clone();
    let target = Reference::parse(&format!("{}/built/app:v1", reg.host())).unwrap();
    let client = Client::new(RegistryOptions::default());
    let rep = berth::image::push::push(&store, &client, &img, &target, &|_, _| {}).unwrap();

    // What the registry holds: the image's layers, the same config (diff_ids).
    // (Built layers are pushed as stored, uncompressed tar: gzip at push time
    // broke pushing imported images and was taken out again.)
    let raw = reg.inspect_raw("built/app:v1");
    assert_eq!(berth::image::Digest::of(&raw), rep.digest);
    let m: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), diff_ids.len());
    for l in layers {
        let mt = l["mediaType"].as_str().unwrap();
        assert!(mt.contains("tar"), "{m}");
    }
    assert_eq!(
        m["config"]["digest"].as_str().unwrap(),
        img.manifest.config.digest.to_string()
    );

    // Another root pulls it (decompressing, checking each diff_id) and runs it.
    let w2 = World::new();
    let store2 = Store::open(w2.root()).unwrap();
    pull(
        &store2,
        &client,
        &target,
        &PullOptions::default(),
        &NoProgress,
    )
    .unwrap();
    let pulled = store2.find(&target.to_string()).unwrap();
    assert_eq!(pulled.config.rootfs.diff_ids, diff_ids);
    let p2 = w2.project(
        "puller",
        &format!("services:\n  app:\n    image: {target}\n"),
    );
    assert_eq!(
        w2.ok(&p2, &["run", "--rm", "app"]),
        "built-here\nfrom the context\n"
    );
    w2.ok(&p2, &["down", "-t", "0"]);
    w2.assert_clean();
    w.assert_clean();
}
