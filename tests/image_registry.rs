//! Pulls and pushes against a real `docker-registry`, filled and checked with skopeo.

mod image_support;

use berth::image::pull::{NoProgress, PullError};
use berth::image::registry::{Credentials, RegistryError};
use berth::image::{pull, Client, Platform, PullOptions, Reference, RegistryOptions, Store};
use image_support::*;

fn new_store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path().join("root")).unwrap();
    (d, s)
}

#[test]
fn pulls_from_anonymous_registry_and_unpacks_the_same_tree() {
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", "v1");
    reg.push_layout(layout.path(), "v1", "test/busybox:v1", false);

    let (_d, store) = new_store();
    let client = Client::new(RegistryOptions::default());
    let r = Reference::parse(&format!("{}/test/busybox:v1", reg.host())).unwrap();
    let rep = pull(&store, &client, &r, &PullOptions::default(), &NoProgress).unwrap();
    assert_eq!(rep.layers_downloaded, 2);
    assert!(rep.updated);
    let img = store.runtime_image(&r.to_string()).unwrap();
    check_busybox_layers(&img.layer_dirs);
    assert_eq!(img.config.cmd.as_deref(), Some(&["sh".to_string()][..]));
    assert_eq!(img.config.user.as_deref(), Some("1000:1000"));
    assert_eq!(img.config.stop_signal.as_deref(), Some("SIGINT"));
    assert!(img
        .config
        .exposed_ports
        .as_ref()
        .unwrap()
        .contains_key("8080/tcp"));
    assert!(img.config.volumes.as_ref().unwrap().contains_key("/data"));
    assert_eq!(
        img.config.healthcheck.as_ref().unwrap().interval,
        Some(1_000_000_000)
    );
    assert_eq!(
        img.lowerdir(),
        format!(
            "{}:{}",
            img.layer_dirs[1].display(),
            img.layer_dirs[0].display()
        )
    );
    // The registry's digest is what skopeo sees.
    let raw = reg.inspect_raw("test/busybox:v1");
    assert_eq!(berth::image::Digest::of(&raw), rep.digest);

    // Again: nothing downloaded, reported up to date.
    let again = pull(&store, &client, &r, &PullOptions::default(), &NoProgress).unwrap();
    assert_eq!(again.layers_downloaded, 0);
    assert!(!again.updated);

    // Zstd layers too, and the shared base... is not shared (different diff ids per
    // compression would be equal; the chain id of the identical tar is reused).
    let z = tempfile::tempdir().unwrap();
    busybox_layout(z.path(), "zstd", "z");
    reg.push_layout(z.path(), "z", "test/busybox:zstd", false);
    let rz = Reference::parse(&format!("{}/test/busybox:zstd", reg.host())).unwrap();
    pull(&store, &client, &rz, &PullOptions::default(), &NoProgress).unwrap();
    let imgz = store.runtime_image(&rz.to_string()).unwrap();
    assert_eq!(
        imgz.layer_dirs, img.layer_dirs,
        "same diff ids share the unpacked layers"
    );
}

#[test]
fn basic_auth_registry_needs_credentials() {
    let reg = Registry::start(true);
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", "v1");
    reg.push_layout(layout.path(), "v1", "private/app:v1", false);
    let r = Reference::parse(&format!("{}/private/app:v1", reg.host())).unwrap();

    let (d, store) = new_store();
    // Anonymous: refused, with an error that says so.
    let anon = Client::new(RegistryOptions {
        docker_config: Some(d.path().join("none.json")),
        ..Default::default()
    });
    let err = pull(&store, &anon, &r, &PullOptions::default(), &NoProgress).unwrap_err();
    assert!(
        matches!(err, PullError::Registry(RegistryError::Unauthorized { .. })),
        "{err}"
    );

    // Wrong password: refused.
    let mut creds = std::collections::HashMap::new();
    creds.insert(
        reg.host(),
        Credentials {
            username: "berth".into(),
            password: "nope".into(),
        },
    );
    let bad = Client::new(RegistryOptions {
        credentials: creds,
        ..Default::default()
    });
    assert!(pull(&store, &bad, &r, &PullOptions::default(), &NoProgress).is_err());

    // Credentials from a docker config file.
    let cfg = d.path().join("config.json");
    let auth = base64_encode("berth:s3cret");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"auths":{{"http://{}":{{"auth":"{auth}"}}}}}}"#,
            reg.host()
        ),
    )
    .unwrap();
    let good = Client::new(RegistryOptions {
        docker_config: Some(cfg),
        ..Default::default()
    });
    pull(&store, &good, &r, &PullOptions::default(), &NoProgress).unwrap();
    check_busybox_layers(&store.runtime_image(&r.to_string()).unwrap().layer_dirs);

    // And a push with the same credentials, which skopeo then reads back.
    let img = store.find(&r.to_string()).unwrap();
    let target = Reference::parse(&format!("{}/private/copy:v2", reg.host())).unwrap();
    berth::image::push::push(&store, &good, &img, &target, &|_, _| {}).unwrap();
    let raw = reg.inspect_raw("private/copy:v2");
    assert_eq!(berth::image::Digest::of(&raw), img.digest);
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn selects_the_platform_from_a_multi_arch_index() {
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    let l = layout.path();
    let mk = |arch: &'static str| {
        let layer = tar_of(&[E::File("arch", arch.as_bytes().to_vec(), 0o644)]);
        write_image(l, &[layer], "gzip", arch, &["true"])
    };
    let mut amd = mk("amd64");
    let mut arm = mk("arm64");
    arm["platform"]["variant"] = "v8".into();
    amd["platform"]["os"] = "linux".into();
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [amd, arm]});
    let idx = put_blob(l, &serde_json::to_vec(&index).unwrap());
    finish_layout(
        l,
        desc("application/vnd.oci.image.index.v1+json", &idx),
        "multi",
    );
    reg.push_layout(l, "multi", "test/multi:1", true);

    let client = Client::new(RegistryOptions::default());
    let r = Reference::parse(&format!("{}/test/multi:1", reg.host())).unwrap();
    for (platform, want) in [
        ("linux/amd64", "amd64"),
        ("linux/arm64", "arm64"),
        ("linux/arm64/v8", "arm64"),
    ] {
        let (_d, store) = new_store();
        let opts = PullOptions {
            platform: Platform::parse(platform).unwrap(),
            ..Default::default()
        };
        let rep = pull(&store, &client, &r, &opts, &NoProgress).unwrap();
        assert_eq!(rep.repo_digest, idx.0);
        let img = store.runtime_image(&r.to_string()).unwrap();
        assert_eq!(
            std::fs::read(img.layer_dirs[0].join("arch")).unwrap(),
            want.as_bytes()
        );
        assert_eq!(img.platform.architecture, want);
    }
    let (_d, store) = new_store();
    let opts = PullOptions {
        platform: Platform::parse("linux/s390x").unwrap(),
        ..Default::default()
    };
    let err = pull(&store, &client, &r, &opts, &NoProgress).unwrap_err();
    assert!(matches!(err, PullError::NoPlatform { .. }), "{err}");
}

#[test]
fn a_corrupted_blob_is_rejected_and_leaves_nothing() {
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    let top = busybox_layout(layout.path(), "gzip", "v1");
    reg.push_layout(layout.path(), "v1", "test/bad:v1", false);
    // Flip bytes in the middle of the busybox layer in the registry's storage.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            layout
                .path()
                .join("blobs/sha256")
                .join(&top["digest"].as_str().unwrap()[7..]),
        )
        .unwrap(),
    )
    .unwrap();
    let layer: berth::image::Digest = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let path = reg.blob_data(&layer);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, bytes).unwrap();

    let (_d, store) = new_store();
    let client = Client::new(RegistryOptions {
        attempts: Some(1),
        ..Default::default()
    });
    let r = Reference::parse(&format!("{}/test/bad:v1", reg.host())).unwrap();
    assert!(pull(&store, &client, &r, &PullOptions::default(), &NoProgress).is_err());
    assert!(!store.has_blob(&layer), "the corrupt blob was not stored");
    assert!(store.record(&r).unwrap().is_none(), "no image recorded");
    let layers: Vec<_> = std::fs::read_dir(store.root().join("layers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    // The intact top layer may be unpacked; the corrupt base never is, nor any temp dir.
    assert!(layers.len() <= 1, "{layers:?}");
    assert!(
        layers
            .iter()
            .all(|n| !n.to_string_lossy().starts_with(".tmp")),
        "{layers:?}"
    );
    assert_eq!(
        std::fs::read_dir(store.root().join("content/ingest"))
            .unwrap()
            .count(),
        0
    );

    // A config blob changed in the registry (same length) is caught by its digest.
    let config: berth::image::Digest = manifest["config"]["digest"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let path = reg.blob_data(&config);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let (_d2, store2) = new_store();
    let err = pull(&store2, &client, &r, &PullOptions::default(), &NoProgress).unwrap_err();
    assert!(
        matches!(
            err,
            PullError::Store(berth::image::StoreError::DigestMismatch { .. })
        ),
        "{err}"
    );
    assert!(!store2.has_blob(&config));
}

#[test]
fn pushes_an_image_skopeo_can_pull() {
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", "v1");
    let (_d, store) = new_store();
    let repo = Reference::parse("local/busybox").unwrap();
    let loaded = berth::image::archive::load(&store, layout.path(), Some(&repo)).unwrap();
    assert_eq!(loaded.len(), 1);
    let img = store.find("local/busybox:v1").unwrap();
    let client = Client::new(RegistryOptions::default());
    let target = Reference::parse(&format!("{}/pushed/busybox:v1", reg.host())).unwrap();
    let rep = berth::image::push::push(&store, &client, &img, &target, &|_, _| {}).unwrap();
    assert_eq!(rep.uploaded, 3);
    // Pushing again uploads nothing.
    let rep = berth::image::push::push(&store, &client, &img, &target, &|_, _| {}).unwrap();
    assert_eq!(rep.uploaded, 0);
    // A second repository on the same registry gets the blobs mounted or skipped.
    let other = Reference::parse(&format!("{}/pushed/other:v1", reg.host())).unwrap();
    berth::image::push::push(
        &store,
        &client,
        &store.find(&target.to_string()).unwrap_or(img.clone()),
        &other,
        &|_, _| {},
    )
    .unwrap();

    let raw = reg.inspect_raw("pushed/busybox:v1");
    assert_eq!(berth::image::Digest::of(&raw), img.digest);
    let out = tempfile::tempdir().unwrap();
    reg.fetch_to_layout("pushed/busybox:v1", &out.path().join("l"), "t");
    reg.fetch_to_layout("pushed/other:v1", &out.path().join("o"), "t");
    // skopeo's copy has the same blobs.
    for l in &img.manifest.layers {
        assert!(out
            .path()
            .join("l/blobs/sha256")
            .join(l.digest.hex())
            .is_file());
    }
}

#[test]
fn concurrent_pulls_into_one_store_share_everything() {
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", "v1");
    reg.push_layout(layout.path(), "v1", "test/shared:v1", false);
    let (_d, store) = new_store();
    let r = Reference::parse(&format!("{}/test/shared:v1", reg.host())).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                // Separate clients and store handles, as separate berth processes would have.
                let client = Client::new(RegistryOptions::default());
                let store = Store::open(store.root()).unwrap();
                pull(&store, &client, &r, &PullOptions::default(), &NoProgress).unwrap();
            });
        }
    });
    check_busybox_layers(&store.runtime_image(&r.to_string()).unwrap().layer_dirs);
    assert_eq!(
        std::fs::read_dir(store.root().join("layers"))
            .unwrap()
            .count(),
        2
    );
    assert_eq!(store.records().unwrap().len(), 1);
}

#[test]
fn pull_all_honours_policies() {
    use berth::image::{pull_all, PullOutcome, PullPolicy};
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", "v1");
    reg.push_layout(layout.path(), "v1", "proj/web:v1", false);
    reg.push_layout(layout.path(), "v1", "proj/db:v1", false);
    let (_d, store) = new_store();
    let client = Client::new(RegistryOptions::default());
    let web = Reference::parse(&format!("{}/proj/web:v1", reg.host())).unwrap();
    let db = Reference::parse(&format!("{}/proj/db:v1", reg.host())).unwrap();
    let missing = Reference::parse(&format!("{}/proj/nope:v1", reg.host())).unwrap();
    pull(&store, &client, &web, &PullOptions::default(), &NoProgress).unwrap();

    let items = vec![
        (web.clone(), PullPolicy::parse("missing").unwrap()),
        (db.clone(), PullPolicy::parse("always").unwrap()),
        (
            missing.clone(),
            PullPolicy::parse("if_not_present").unwrap(),
        ),
        (web.clone(), PullPolicy::parse("never").unwrap()),
        (web.clone(), PullPolicy::parse("every_1h").unwrap()),
    ];
    let out = pull_all(
        &store,
        &client,
        &items,
        &PullOptions::default(),
        &NoProgress,
    );
    assert!(matches!(out[0].1, PullOutcome::Skipped));
    match &out[1].1 {
        // Same layers as web: nothing downloaded, but the new tag is recorded.
        PullOutcome::Pulled(rep) => assert_eq!(rep.layers_downloaded, 0),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(
            &out[2].1,
            PullOutcome::Failed(PullError::Registry(RegistryError::NotFound(_)))
        ),
        "{:?}",
        out[2].1
    );
    assert!(matches!(out[3].1, PullOutcome::Skipped));
    assert!(
        matches!(out[4].1, PullOutcome::Skipped),
        "pulled less than an hour ago"
    );
    assert!(store.record(&db).unwrap().is_some());
}

#[test]
fn pulls_over_https_with_the_registry_ca_from_certs_d() {
    let reg = Registry::start_tls();
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", "v1");
    reg.push_layout(layout.path(), "v1", "tls/busybox:v1", false);
    let r = Reference::parse(&format!("{}/tls/busybox:v1", reg.host())).unwrap();
    let (_d, store) = new_store();

    // Without the CA, no TLS (and the HTTPS server refuses plain HTTP).
    let nocerts = Client::new(RegistryOptions {
        certs_dirs: Some(vec![]),
        attempts: Some(1),
        ..Default::default()
    });
    assert!(pull(&store, &nocerts, &r, &PullOptions::default(), &NoProgress).is_err());
    // With another CA directory that does not name this host: same.
    let empty = tempfile::tempdir().unwrap();
    let other = Client::new(RegistryOptions {
        certs_dirs: Some(vec![empty.path().into()]),
        attempts: Some(1),
        ..Default::default()
    });
    assert!(pull(&store, &other, &r, &PullOptions::default(), &NoProgress).is_err());

    let client = Client::new(RegistryOptions {
        certs_dirs: Some(vec![reg.dir.path().join("certs.d")]),
        ..Default::default()
    });
    assert!(client.base_url(&r.registry).starts_with("https://"));
    pull(&store, &client, &r, &PullOptions::default(), &NoProgress).unwrap();
    check_busybox_layers(&store.runtime_image(&r.to_string()).unwrap().layer_dirs);
}

#[test]
fn bearer_token_flow_anonymous_pull_and_authenticated_push() {
    let tokens = TokenServer::start();
    let reg = Registry::start_token(&tokens);
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", "v1");
    // skopeo, with credentials, gets a push token from our token server.
    reg.push_layout(layout.path(), "v1", "hub/busybox:v1", false);

    let (d, store) = new_store();
    let anon = Client::new(RegistryOptions {
        docker_config: Some(d.path().join("none.json")),
        ..Default::default()
    });
    let r = Reference::parse(&format!("{}/hub/busybox:v1", reg.host())).unwrap();
    pull(&store, &anon, &r, &PullOptions::default(), &NoProgress).unwrap();
    check_busybox_layers(&store.runtime_image(&r.to_string()).unwrap().layer_dirs);
    assert!(tokens
        .requests
        .lock()
        .unwrap()
        .iter()
        .any(|q| q.contains("scope=repository%3Ahub%2Fbusybox%3Apull")
            && q.contains("authorized=false")));

    // Anonymous tokens carry no push right: the push is refused.
    let img = store.find(&r.to_string()).unwrap();
    let target = Reference::parse(&format!("{}/hub/copy:v1", reg.host())).unwrap();
    let err = berth::image::push::push(&store, &anon, &img, &target, &|_, _| {}).unwrap_err();
    assert!(err.to_string().contains("unauthorized"), "{err}");

    // With credentials the token server grants push.
    let mut creds = std::collections::HashMap::new();
    creds.insert(
        reg.host(),
        Credentials {
            username: "berth".into(),
            password: "s3cret".into(),
        },
    );
    let authed = Client::new(RegistryOptions {
        credentials: creds,
        ..Default::default()
    });
    berth::image::push::push(&store, &authed, &img, &target, &|_, _| {}).unwrap();
    assert_eq!(
        berth::image::Digest::of(&reg.inspect_raw("hub/copy:v1")),
        img.digest
    );
}
