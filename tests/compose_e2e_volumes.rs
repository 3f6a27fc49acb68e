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
