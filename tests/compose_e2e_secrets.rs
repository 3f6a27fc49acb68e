//! docker compose's `pkg/e2e/secrets_test.go` scenarios, run against berth.
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

use common::World;
use std::fs;

// SCENARIOS.md § TestSecretFromInclude (secrets_test.go): a secret declared by an
// included project must resolve from the include's env_file.
#[test]
fn test_secret_from_include() {
    let w = World::new();
    let p = w.project(
        "secretinclude",
        r#"
include:
  - path: child/compose.yaml
    env_file:
      - secret.env

services:
  foo:
    image: IMAGE
    secrets:
      - source: secret
        target: bar
        uid: "1005"
        gid: "1005"
        mode: 0440
    command: cat /run/secrets/bar

secrets:
  secret:
    environment: SECRET
"#,
    );
    fs::write(p.join("secret.env"), "MY_SECRET='this-is-secret'\n").unwrap();
    fs::create_dir_all(p.join("child")).unwrap();
    fs::write(
        p.join("child/compose.yaml"),
        r#"
services:
  included:
    image: IMAGE
    secrets:
      - my-secret
    command: cat /run/secrets/my-secret

secrets:
  my-secret:
    environment: 'MY_SECRET'
"#
        .replace("IMAGE", common::IMAGE),
    )
    .unwrap();
    // the included service reads the secret defined by the include's env_file
    let out = w.ok(&p, &["run", "--rm", "included"]);
    assert_eq!(out, "this-is-secret");
    w.ok(&p, &["down"]);
    w.assert_clean();
}

// SCENARIOS.md § TestSecretFromEnv (secrets_test.go): an environment-sourced
// secret must be mounted with its content, ownership and mode. The image has
// no /var/run -> /run link: the check reads /run/secrets, where it lands.
#[test]
fn test_secret_from_env() {
    let w = World::new();
    let p = w.project(
        "secretenv",
        r#"
services:
  foo:
    image: IMAGE
    secrets:
      - source: secret
        target: bar
        uid: "1005"
        gid: "1005"
        mode: 0440
    command: cat /run/secrets/bar

secrets:
  secret:
    environment: SECRET
"#,
    );
    let env = [("SECRET", "BAR")];
    // the service reads the secret's content from the mounted file
    let out = w.berth_env(&p, &["run", "--rm", "foo"], &env);
    let text = common::scenario::combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("BAR"),
        "{text}"
    );
    // the mounted secret carries the declared uid, gid and mode
    let out = w.berth_env(
        &p,
        &["run", "--rm", "foo", "ls", "-al", "/run/secrets/bar"],
        &env,
    );
    let text = common::scenario::combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("-r--r-----    1 1005     1005"),
        "{text}"
    );
    w.ok(&p, &["down"]);
    w.assert_clean();
}
