//! docker compose's `pkg/e2e/volumes_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see
//! `../shared/conformance/docker+compose/SCENARIOS.md` and tests/E2E-SCENARIOS.md),
//! its fixture adapted to the busybox test image: `alpine`/`nginx` become
//! `IMAGE`, and what the Go test checked with `docker exec`/`inspect` a container
//! checks from the inside and prints to its log. Tests not named `test_*` are
//! berth's own, on the same commands.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;
mod image_support;

use common::scenario::{ids, run};
use common::{http_get, World};

// SCENARIOS.md § TestUpRecreateVolumesIgnoreBinds (volumes_test.go): a bind
// mount must not be mistaken for a volume change on an unchanged up.
#[test]
fn test_up_recreate_volumes_ignore_binds() {
    let w = World::new();
    let p = w.project(
        "binds",
        r#"
services:
  app:
    image: IMAGE
    init: true
    command: ["sh", "-c", "cat /my_vol/marker; sleep infinity"]
    volumes:
      - .:/my_vol
"#,
    );
    std::fs::write(p.join("marker"), "bound-from-the-project\n").unwrap();
    // up starts the service with its bind mount
    w.ok(&p, &["up", "-d"]);
    w.wait_until(10, "the bind mount to be read", || {
        w.ok(&p, &["logs"]).contains("bound-from-the-project")
    });
    let before = ids(&w, &p);
    // an unchanged up leaves the container alone
    let out = w.berth_in(&p, &["up", "-d"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Container binds-app-1 Running"), "{err}");
    assert_eq!(ids(&w, &p), before);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpSwitchVolumes (volumes_test.go): switching a service's
// external volume must reconnect the container to the new one. berth has no
// `volume create` yet: a helper project declares the two volumes by name.
#[test]
fn test_up_switch_volumes() {
    let w = World::new();
    let maker = w.project(
        "volmaker",
        r#"
services:
  touch:
    image: IMAGE
    command: ["true"]
    volumes: [one:/one, two:/two]
volumes:
  one:
    name: switch_vol_one
  two:
    name: switch_vol_two
"#,
    );
    // create the two external volumes
    w.ok(&maker, &["up", "-d"]);
    w.ok(&maker, &["down"]);
    let p = w.project(
        "switch",
        r#"
services:
  app:
    image: IMAGE
    init: true
    command: ["sh", "-c", "hostname > /my_vol/mounted-by; sleep infinity"]
    volumes:
      - my_vol:/my_vol

volumes:
  my_vol:
    external: true
    name: ${EXTERNAL_VOLUME}
"#,
    );
    let marker = |vol: &str| w.root().join(format!("volumes/{vol}/_data/mounted-by"));
    // up mounts the first volume
    std::fs::write(p.join(".env"), "EXTERNAL_VOLUME=switch_vol_one\n").unwrap();
    w.ok(&p, &["up", "-d"]);
    // the container's mount points at the first volume
    w.wait_until(10, "a write to the first volume", || {
        marker("switch_vol_one").exists()
    });
    assert!(!marker("switch_vol_two").exists());
    // up with the other volume reconnects the service
    std::fs::write(p.join(".env"), "EXTERNAL_VOLUME=switch_vol_two\n").unwrap();
    w.ok(&p, &["up", "-d"]);
    // the container's mount points at the second volume
    w.wait_until(10, "a write to the second volume", || {
        marker("switch_vol_two").exists()
    });
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestLocalComposeVolume (volumes_test.go): bind mounts, named,
// renamed and anonymous volumes, configs and secrets reach the containers;
// anonymous volumes are inherited by a recreated container unless renewed;
// `down --volumes` removes the named ones. The nginx image built from
// `nginx-build` becomes the busybox image serving its html directory.
#[test]
fn test_local_compose_volume() {
    let w = World::new();
    let p = w.project(
        "compose-e2e-volume",
        r#"
services:
  nginx:
    image: IMAGE
    init: true
    command: httpd -f -p 80 -h /usr/share/nginx/html
    volumes:
      - ./static:/usr/share/nginx/html
    ports:
      - 80

  nginx2:
    image: IMAGE
    init: true
    command: sleep infinity
    volumes:
      - staticVol:/usr/share/nginx/html:ro
      - /usr/src/app/node_modules
      - otherVol:/usr/share/nginx/test
    ports:
      - 80
    configs:
      - myconfig
    secrets:
      - mysecret

volumes:
  staticVol:
  otherVol:
    name: myVolume

configs:
  myconfig:
    file: ./static/index.html

secrets:
  mysecret:
    file: ./static/index.html
"#,
    );
    std::fs::create_dir_all(p.join("static")).unwrap();
    std::fs::write(
        p.join("static/index.html"),
        "<html><body><h2>Hello from Nginx container</h2></body></html>\n",
    )
    .unwrap();
    // up with no image name, volume
    w.ok(&p, &["up", "-d"]);
    // access bind mount data
    let port = w.ok(&p, &["port", "nginx", "80"]);
    let port: u16 = port.trim().rsplit(':').next().unwrap().parse().unwrap();
    w.wait_until(20, "nginx to serve the bind-mounted page", || {
        http_get(port, "/index.html").is_some_and(|b| b.contains("Hello from Nginx container"))
    });
    let exec = |args: &[&str]| {
        let mut v = vec!["exec", "-T", "nginx2"];
        v.extend_from_slice(args);
        run(&w, &p, &v)
    };
    // check container volume specs: the named volume is read-only, the others writable
    let (code, _, _) = exec(&["touch", "/usr/share/nginx/html/x"]);
    assert_ne!(code, 0, "staticVol is mounted read-only");
    let (code, _, err) = exec(&["touch", "/usr/share/nginx/test/x"]);
    assert_eq!(code, 0, "{err}");
    assert!(w.root().join("volumes/myVolume/_data/x").exists());
    // check config content
    let (_, out, _) = exec(&["cat", "/myconfig"]);
    assert!(out.contains("Hello from Nginx container"), "{out}");
    // check secrets content
    let (_, out, _) = exec(&["cat", "/run/secrets/mysecret"]);
    assert!(out.contains("Hello from Nginx container"), "{out}");
    // should inherit anonymous volumes
    let (code, _, err) = exec(&["touch", "/usr/src/app/node_modules/test"]);
    assert_eq!(code, 0, "{err}");
    w.ok(&p, &["up", "--force-recreate", "-d"]);
    let (code, _, err) = exec(&["ls", "/usr/src/app/node_modules/test"]);
    assert_eq!(
        code, 0,
        "the recreated container lost its anonymous volume: {err}"
    );
    // should renew anonymous volumes
    w.ok(
        &p,
        &["up", "--force-recreate", "--renew-anon-volumes", "-d"],
    );
    let (code, out, _) = exec(&["ls", "/usr/src/app/node_modules/test"]);
    assert_ne!(code, 0, "a renewed anonymous volume is empty: {out}");
    // cleanup volume project
    w.ok(&p, &["down", "--volumes", "-t", "0"]);
    let ls = w.ok(&p, &["volumes", "-q"]);
    assert!(!ls.contains("compose-e2e-volume_staticVol"), "{ls}");
    assert!(!ls.contains("myVolume"), "{ls}");
    assert!(!w.root().join("volumes/myVolume").exists());
    w.assert_clean();
}

// SCENARIOS.md § TestProjectVolumeBind (volumes_test.go): a local volume with
// `driver_opts` binding a host directory shows that directory's files.
#[test]
fn test_project_volume_bind() {
    let w = World::new();
    let p = w.project(
        "compose-e2e-project-volume-bind",
        r#"
services:
  frontend:
    image: IMAGE
    init: true
    command: sleep infinity
    container_name: frontend
    volumes:
      - project-data:/data

volumes:
  project-data:
    driver: local
    driver_opts:
      type: none
      o: bind
      device: "${TEST_DIR}"
"#,
    );
    let dir = w.dir.path().join("bound");
    std::fs::create_dir_all(&dir).unwrap();
    let env = [("TEST_DIR", dir.to_str().unwrap())];
    let out = w.berth_env(&p, &["up", "-d"], &env);
    assert!(out.status.success(), "{}", common::scenario::combined(&out));
    std::fs::write(dir.join("resultfile"), "SUCCESS\n").unwrap();
    let out = w.berth_env(
        &p,
        &["exec", "-T", "frontend", "cat", "/data/resultfile"],
        &env,
    );
    let text = common::scenario::combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("SUCCESS"),
        "{text}"
    );
    let out = w.berth_env(&p, &["down", "-t", "0"], &env);
    assert!(out.status.success());
    assert!(
        dir.join("resultfile").exists(),
        "down leaves the bound directory alone"
    );
    w.assert_clean();
}

/// Volume `name`'s labels, as berth keeps them (`docker volume inspect`).
fn volume_labels(w: &World, name: &str) -> std::collections::BTreeMap<String, String> {
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(w.root().join("volumes").join(name).join("volume.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    serde_json::from_value(v["labels"].clone()).unwrap_or_default()
}

// SCENARIOS.md § TestUpRecreateVolumes (volumes_test.go): a volume definition
// change must recreate the volume on an approved up (`-y`); unapproved (no
// terminal, nothing answered), the volume stays as it is.
#[test]
fn test_up_recreate_volumes() {
    let w = World::new();
    let p = w.project(
        "recreatevol",
        r#"
services:
  app:
    image: IMAGE
    init: true
    command: sleep infinity
    volumes:
      - my_vol:/my_vol

volumes:
  my_vol:
    labels:
      foo: ${VOL_LABEL:-bar}
"#,
    );
    // up creates the volume with its declared label
    let (code, out, err) = run(&w, &p, &["up", "-d"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Volume recreatevol_my_vol Created"), "{err}");
    // the volume carries the initial label
    assert_eq!(volume_labels(&w, "recreatevol_my_vol")["foo"], "bar");
    w.ok(&p, &["exec", "-T", "app", "touch", "/my_vol/data"]);
    // without -y and without an answer the volume is kept
    let out = w.berth_env(&p, &["up", "-d"], &[("VOL_LABEL", "zot")]);
    let all = common::scenario::combined(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("Volume \"recreatevol_my_vol\" exists but doesn't match configuration in compose file. Recreate (data will be lost)?"),
        "{all}"
    );
    assert_eq!(volume_labels(&w, "recreatevol_my_vol")["foo"], "bar");
    let before = ids(&w, &p);
    // up -y with a changed label recreates the volume
    let out = w.berth_env(&p, &["up", "-d", "-y"], &[("VOL_LABEL", "zot")]);
    let all = common::scenario::combined(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("Volume recreatevol_my_vol Removed"), "{all}");
    // the volume carries the new label, is empty, and the container is new
    assert_eq!(volume_labels(&w, "recreatevol_my_vol")["foo"], "zot");
    assert_ne!(ids(&w, &p), before);
    let (code, _, _) = run(&w, &p, &["exec", "-T", "app", "test", "-e", "/my_vol/data"]);
    assert_eq!(code, 1, "the old volume's data is still there");
    w.ok(&p, &["down", "-v", "-t", "0"]);
    w.assert_clean();
}

/// A registry holding the busybox test image (two layers: a whiteout and an
/// opaque directory in the top one) as `nginx:alpine`.
fn nginx_registry() -> image_support::Registry {
    let reg = image_support::Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    image_support::busybox_layout(layout.path(), "gzip", "v1");
    reg.push_layout(layout.path(), "v1", "nginx:alpine", false);
    reg
}

// SCENARIOS.md § TestImageVolume (volumes_test.go): an image volume must mount
// the source image's content at the requested subpath, pulling the image. The
// registry's image stands for nginx:alpine, its `etc/` for nginx's html/: the
// top layer's whiteout of `etc/motd` hides it.
#[test]
fn test_image_volume() {
    let reg = nginx_registry();
    let w = World::new();
    let p = w.project(
        "imagevol",
        &r#"
services:
  with_image:
    image: IMAGE
    command: "ls -al /mnt/image"
    volumes:
      - type: image
        source: REG/nginx:alpine
        target: /mnt/image
        image:
          subpath: etc/
"#
        .replace("REG", &reg.host()),
    );
    // up mounts the image content
    let (code, out, err) = run(&w, &p, &["up", "with_image"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("passwd"), "{out}{err}");
    assert!(out.contains("hostname"), "{out}");
    assert!(
        !out.contains("motd"),
        "a whiteout of the top layer is ignored: {out}"
    );
    assert!(
        err.contains(&format!("Image {}/nginx:alpine Pulled", reg.host())),
        "{err}"
    );
    // berth's own: the container keeps the image it mounts, untagged and pruned
    w.ok(
        &p,
        &["image", "rm", &format!("{}/nginx:alpine", reg.host())],
    );
    w.ok(&p, &["image", "prune", "--force"]);
    w.ok(&p, &["start", "with_image"]);
    w.wait_until(10, "the second run's listing", || {
        w.ok(&p, &["logs", "with_image"]).matches("passwd").count() == 2
    });
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestImageVolumeImageAlreadyLocal (volumes_test.go): an image
// volume whose source image is already local must mount, read-only, and stay
// idempotent.
#[test]
fn test_image_volume_image_already_local() {
    let w = World::new();
    let p = w.project(
        "imagevollocal",
        r#"
services:
  app:
    image: IMAGE
    command: ["sh", "-c", "ls -al /mnt/image; touch /mnt/image/x || echo read-only"]
    volumes:
      - type: image
        source: IMAGE
        target: /mnt/image
        image:
          subpath: data/
"#,
    );
    // up mounts the image volume content
    let (code, out, err) = run(&w, &p, &["up", "app"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("seed"), "{out}{err}");
    assert!(out.contains("read-only"), "{out}");
    let before = ids(&w, &p);
    // an unchanged up does not recreate the service
    let (code, out, err) = run(&w, &p, &["up", "app"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!format!("{out}{err}").contains("Recreate"), "{out}{err}");
    assert_eq!(ids(&w, &p), before);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestImageVolumeRecreateOnRebuild (volumes_test.go): rebuilding
// an image-volume source must recreate its consumer to expose the new content.
#[test]
fn test_image_volume_recreate_on_rebuild() {
    let w = World::new();
    let p = w.project(
        "imagevolrebuild",
        r#"
services:
  source:
    build:
      context: .
      dockerfile: Dockerfile
    image: ${SOURCE_REF}
    # alpine's CMD; the busybox test image has none
    command: ["true"]

  consumer:
    image: IMAGE
    depends_on:
      - source
    command: ["cat", "/data/content.txt"]
    volumes:
      - type: image
        source: ${SOURCE_REF}
        target: /data
        image:
          subpath: app
"#,
    );
    std::fs::write(
        p.join("Dockerfile"),
        format!(
            "FROM {}\nWORKDIR /app\nARG CONTENT=initial\nRUN echo \"$CONTENT\" > /app/content.txt\n",
            common::IMAGE
        ),
    )
    .unwrap();
    // SOURCE_IMAGE is SOURCE_REF here: `World::project` replaces IMAGE.
    let env = [("SOURCE_REF", "imagevolrebuild-source-image")];
    // build the source image with its initial content
    let out = w.berth_env(&p, &["build", "--build-arg", "CONTENT=foo"], &env);
    assert!(out.status.success(), "{}", common::scenario::combined(&out));
    // up mounts the image volume into the consumer
    let out = w.berth_env(&p, &["up", "-d"], &env);
    assert!(out.status.success(), "{}", common::scenario::combined(&out));
    // the consumer read the initial content
    w.wait_until(10, "the consumer's output", || {
        w.ok(&p, &["logs", "consumer"]).contains("foo")
    });
    let before = ids(&w, &p)["imagevolrebuild-consumer-1"].clone();
    // rebuild the source with new content
    let out = w.berth_env(&p, &["build", "--build-arg", "CONTENT=bar"], &env);
    assert!(out.status.success(), "{}", common::scenario::combined(&out));
    // up recreates the consumer against the rebuilt image
    let out = w.berth_env(&p, &["up", "-d"], &env);
    let all = common::scenario::combined(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("Container imagevolrebuild-consumer-1 Recreate"),
        "{all}"
    );
    assert_ne!(ids(&w, &p)["imagevolrebuild-consumer-1"], before);
    // the consumer read the new content
    w.wait_until(10, "the consumer's new output", || {
        w.ok(&p, &["logs", "consumer"]).contains("bar")
    });
    w.berth_env(&p, &["down", "-t", "0", "--rmi", "local"], &env);
    w.assert_clean();
}
