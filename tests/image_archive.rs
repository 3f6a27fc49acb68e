//! `docker save` archives and OCI layouts loaded, images saved and imported.

mod image_support;

use berth::image::archive::{import, load, load_reader, save};
use berth::image::{Digest, Reference, Store};
use image_support::*;

fn new_store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path().join("root")).unwrap();
    (d, s)
}

/// A legacy `docker save` tarball (docker < 25): `<id>/layer.tar`, `<hex>.json`,
/// `manifest.json`, `repositories`, and a second image whose layer is a symlink.
fn docker_save_archive() -> Vec<u8> {
    let l0 = tar_of(&base_layer());
    let l1 = tar_of(&top_layer());
    let config = serde_json::json!({
        "architecture": host_arch(), "os": "linux",
        "config": {"Cmd": ["sh"], "Entrypoint": ["/bin/busybox"]},
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(&l0).to_string(), Digest::of(&l1).to_string()]},
    });
    let cfg = serde_json::to_vec(&config).unwrap();
    let cfg_hex = Digest::of(&cfg).hex().to_string();
    let config2 = serde_json::json!({
        "architecture": host_arch(), "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(&l0).to_string()]},
    });
    let cfg2 = serde_json::to_vec(&config2).unwrap();
    let cfg2_hex = Digest::of(&cfg2).hex().to_string();
    let manifest = serde_json::json!([
        {"Config": format!("{cfg_hex}.json"), "RepoTags": ["busybox:saved", "example.com/team/bb:1"], "Layers": ["aaa/layer.tar", "bbb/layer.tar"]},
        {"Config": format!("{cfg2_hex}.json"), "RepoTags": null, "Layers": ["ccc/layer.tar"]},
    ]);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add("aaa/VERSION", b"1.0");
    add("aaa/layer.tar", &l0);
    add("bbb/layer.tar", &l1);
    add(&format!("{cfg_hex}.json"), &cfg);
    add(&format!("{cfg2_hex}.json"), &cfg2);
    add("repositories", b"{}");
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    h.set_cksum();
    b.append_link(&mut h, "ccc/layer.tar", "../aaa/layer.tar")
        .unwrap();
    b.into_inner().unwrap()
}

#[test]
fn loads_a_docker_save_tarball() {
    let (d, store) = new_store();
    let path = d.path().join("saved.tar.gz");
    std::fs::write(&path, gzip(&docker_save_archive())).unwrap();
    let loaded = load(&store, &path, None).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded[0].tags.len(), 2);
    assert!(loaded[1].tags.is_empty());
    let img = store.runtime_image("busybox:saved").unwrap();
    check_busybox_layers(&img.layer_dirs);
    assert_eq!(
        img.config.entrypoint.as_deref(),
        Some(&["/bin/busybox".to_string()][..])
    );
    let same = store.runtime_image("example.com/team/bb:1").unwrap();
    assert_eq!(same.id, img.id);
    // The untagged one is found by id, and shares the base layer directory.
    let untagged = store.runtime_image(loaded[1].id.hex()).unwrap();
    assert_eq!(untagged.layer_dirs[0], img.layer_dirs[0]);
}

#[test]
fn loads_oci_layouts_from_dirs_and_compressed_tars() {
    let (d, store) = new_store();
    let layout = d.path().join("layout");
    busybox_layout(&layout, "gzip", "v3");
    let repo = Reference::parse("127.0.0.1:5000/oci/busybox").unwrap();
    let loaded = load(&store, &layout, Some(&repo)).unwrap();
    assert_eq!(
        loaded[0].tags[0].to_string(),
        "127.0.0.1:5000/oci/busybox:v3"
    );
    check_busybox_layers(
        &store
            .runtime_image("127.0.0.1:5000/oci/busybox:v3")
            .unwrap()
            .layer_dirs,
    );

    // The same layout as a zstd-compressed tar, read from a stream.
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", &layout).unwrap();
    let tarball = zstd(&b.into_inner().unwrap());
    let (_d2, store2) = new_store();
    let loaded2 = load_reader(
        &store2,
        &tarball[..],
        Some(&Reference::parse("x/y").unwrap()),
    )
    .unwrap();
    assert_eq!(loaded2[0].digest, loaded[0].digest);
    assert!(store2.find("x/y:v3").is_ok());
}

#[test]
fn save_then_load_round_trips_and_skopeo_reads_it() {
    let (d, store) = new_store();
    let layout = d.path().join("layout");
    busybox_layout(&layout, "gzip", "v1");
    load(
        &store,
        &layout,
        Some(&Reference::parse("rt/busybox").unwrap()),
    )
    .unwrap();
    let img = store.find("rt/busybox:v1").unwrap();
    let out = d.path().join("out.tar");
    save(
        &store,
        &[(
            img.clone(),
            vec![Reference::parse("rt/busybox:v1").unwrap()],
        )],
        std::fs::File::create(&out).unwrap(),
    )
    .unwrap();

    let (_d2, store2) = new_store();
    let loaded = load(&store2, &out, None).unwrap();
    assert_eq!(loaded[0].id, img.config_digest);
    check_busybox_layers(&store2.runtime_image("rt/busybox:v1").unwrap().layer_dirs);

    // skopeo, an independent reader, understands the archive both as docker-archive and as OCI.
    let raw = run({
        let mut c = std::process::Command::new("skopeo");
        c.args(["--insecure-policy", "inspect", "--raw"])
            .arg(format!("docker-archive:{}", out.display()));
        c
    });
    let m: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(m["layers"].as_array().unwrap().len(), 2);
    let oci = d.path().join("oci");
    std::fs::create_dir(&oci).unwrap();
    let mut ar = tar::Archive::new(std::fs::File::open(&out).unwrap());
    ar.unpack(&oci).unwrap();
    let raw = run({
        let mut c = std::process::Command::new("skopeo");
        c.args(["--insecure-policy", "inspect", "--raw"])
            .arg(format!("oci:{}:v1", oci.display()));
        c
    });
    assert_eq!(Digest::of(&raw), img.digest);
}

#[test]
fn imports_a_rootfs_tarball_as_one_layer() {
    let (_d, store) = new_store();
    let rootfs = gzip(&tar_of(&base_layer()));
    let r = Reference::parse("imported:latest").unwrap();
    let cfg = berth::image::RuntimeConfig {
        cmd: Some(vec!["sh".into()]),
        ..Default::default()
    };
    let loaded = import(&store, &rootfs[..], Some(&r), cfg).unwrap();
    let img = store.runtime_image("imported").unwrap();
    assert_eq!(img.id, loaded.id);
    assert_eq!(img.layer_dirs.len(), 1);
    assert_eq!(
        std::fs::read(img.layer_dirs[0].join("bin/busybox")).unwrap(),
        busybox()
    );
    assert_eq!(img.config.cmd.as_deref(), Some(&["sh".to_string()][..]));
    // An unsafe rootfs is refused.
    let evil = tar_of(&[E::File("../../escape", vec![], 0o644)]);
    assert!(import(
        &store,
        &evil[..],
        Some(&Reference::parse("evil").unwrap()),
        Default::default()
    )
    .is_err());
    assert!(store.find("evil").is_err());
}

#[test]
fn garbage_collection_keeps_what_images_use() {
    let (d, store) = new_store();
    let layout = d.path().join("layout");
    busybox_layout(&layout, "gzip", "v1");
    load(&store, &layout, Some(&Reference::parse("gc/a").unwrap())).unwrap();
    import(
        &store,
        &tar_of(&top_layer())[..],
        Some(&Reference::parse("gc/b").unwrap()),
        Default::default(),
    )
    .unwrap();
    // load ingested index.json and oci-layout too: collected now.
    let rep = store.gc(&[]).unwrap();
    assert_eq!(rep.blobs.len(), 2, "{rep:?}");
    assert!(rep.layers.is_empty());
    store.runtime_image("gc/a:v1").unwrap();
    let b = store.find("gc/b").unwrap();
    // A container pins gc/b: untagging it keeps its content until the pin goes.
    store.pin("container-1", &b.digest).unwrap();
    store
        .remove_records(&b.records.iter().map(|r| r.name.clone()).collect::<Vec<_>>())
        .unwrap();
    let rep = store.gc(&[]).unwrap();
    assert!(rep.layers.is_empty() && rep.blobs.is_empty(), "{rep:?}");
    store.unpin("container-1").unwrap();
    store
        .remove_records(&b.records.iter().map(|r| r.name.clone()).collect::<Vec<_>>())
        .unwrap();
    let rep = store.gc(&[]).unwrap();
    assert_eq!(rep.layers.len(), 1);
    assert_eq!(rep.blobs.len(), 3); // manifest, config, layer
    check_busybox_layers(&store.runtime_image("gc/a:v1").unwrap().layer_dirs);
}
