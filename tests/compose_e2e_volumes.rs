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

use common::scenario::ids;
use common::World;

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
