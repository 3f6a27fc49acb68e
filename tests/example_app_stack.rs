//! examples/compose/app-stack end to end: berth builds nginx, a Python app,
//! PostgreSQL and Redis images from a Debian base made on the host, brings the
//! stack up, and a request goes nginx → app → PostgreSQL and Redis. The counters
//! survive `down` and `up` (named volumes); `down -v --rmi local` leaves nothing.
//!
//! The Debian base (debootstrap, a few minutes the first time) is cached under
//! target/debian-base, keyed by its package list, and shared between runs. When it
//! cannot be made the test fails and says why; BERTH_SKIP_DEBIAN_BASE=1 skips it.

mod common;

use common::{free_port, http_get, World};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const BASE: &str = "localhost/app-stack-base:bookworm";
const SERVICES: [&str; 4] = ["proxy", "app", "db", "cache"];

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose/app-stack")
}

/// The base's rootfs tarball, made by the example's own script (cached).
fn debian_base() -> PathBuf {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("debian-base");
    let out = Command::new(example_dir().join("debian-base.sh"))
        .arg(&cache)
        .output()
        .expect("run examples/compose/app-stack/debian-base.sh");
    assert!(
        out.status.success(),
        "the Debian base image could not be made (debootstrap through deb.debian.org; \
         scripts/setup installs debootstrap). Set BERTH_SKIP_DEBIAN_BASE=1 to skip this test.\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Copies the example's files (not its helper script) into `to`.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A GET through the published port: status line and body.
fn visit(port: u16) -> String {
    let resp = http_get(port, "/").expect("the proxy answers");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    resp.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[test]
fn app_stack_serves_through_every_tier_and_keeps_its_data() {
    if std::env::var_os("BERTH_SKIP_DEBIAN_BASE").is_some_and(|v| v == "1") {
        eprintln!("skipped: BERTH_SKIP_DEBIAN_BASE=1");
        return;
    }
    let tar = debian_base();
    let w = World::new();
    w.ok(
        w.dir.path(),
        &["image", "import", tar.to_str().unwrap(), BASE],
    );
    // Its own project name per run: parallel runs on one host do not meet.
    let name = format!("appstack{}", std::process::id());
    let p = w.dir.path().join(&name);
    copy_tree(&example_dir(), &p);
    fs::remove_file(p.join("debian-base.sh")).unwrap();
    let yaml = fs::read_to_string(p.join("compose.yaml")).unwrap();
    assert!(yaml.contains("\nname: app-stack\n"), "{yaml}");
    w.project(
        &name,
        &yaml.replace("\nname: app-stack\n", &format!("\nname: {name}\n")),
    );
    let port = free_port().to_string();
    let env = [("APP_STACK_PORT", port.as_str())];
    let up = |w: &World| {
        let out = w.berth_env(&p, &["up", "-d", "--wait", "--wait-timeout", "120"], &env);
        assert!(
            out.status.success(),
            "up failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let port: u16 = port.parse().unwrap();

    up(&w);
    let body = visit(port);
    for tier in ["nginx/", "python bottle", "postgresql 15", "redis 7"] {
        assert!(body.contains(tier), "{tier} missing from {body}");
    }
    assert!(body.contains("(visits: 1) + redis"), "{body}");
    assert!(body.ends_with("(visits: 1)\n"), "{body}");
    assert!(visit(port).contains("(visits: 2)"));

    // Each service runs as its own non-root user, as the official images do.
    for (svc, user) in [
        ("proxy", "www-data"),
        ("app", "app"),
        ("db", "postgres"),
        ("cache", "redis"),
    ] {
        let out = w.ok(&p, &["exec", svc, "sh", "-c", "id -un; cat /proc/1/status"]);
        assert!(out.starts_with(&format!("{user}\n")), "{svc}: {out}");
        let uid = out.lines().find(|l| l.starts_with("Uid:")).unwrap();
        assert!(!uid.contains("\t0\t"), "{svc}'s pid 1 runs as root: {uid}");
    }

    // Data lives in the named volumes: down and up keep both counters.
    w.ok(&p, &["down"]);
    w.assert_clean();
    up(&w);
    let body = visit(port);
    assert!(body.contains("(visits: 3) + redis"), "{body}");
    assert!(body.ends_with("(visits: 3)\n"), "{body}");

    // down -v --rmi local: containers, networks, volumes and the built images go.
    w.ok(&p, &["down", "-v", "--rmi", "local"]);
    w.assert_clean();
    let listed = w.ok(w.dir.path(), &["image", "ls"]);
    for svc in SERVICES {
        assert!(
            !listed.contains(&format!("{name}-{svc}")),
            "{svc}'s image left:\n{listed}"
        );
    }
    let volumes = w.ok(&p, &["volumes", "-q"]);
    assert!(volumes.trim().is_empty(), "volumes left: {volumes}");
}
