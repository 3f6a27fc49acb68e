//! docker compose's `pkg/e2e/watch_test.go` scenarios, run against berth.
//!
//! Each `test_*` is the Go test of the same name (see tests/E2E-SCENARIOS.md),
//! its fixture from `pkg/e2e/fixtures/watch/` adapted to the busybox test image:
//! `alpine`, `busybox`, `nginx` become `IMAGE` (built `FROM` it where the fixture
//! builds), and `docker inspect` checks become `ps --format json`.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e (Apache-2.0).

mod common;
mod watch_common;

use std::fs;
use std::path::Path;

use common::scenario::Background;
use common::World;
use watch_common::Watching;

/// `exec SERVICE cat PATH` in the project: its stdout when it succeeded.
fn cat_in(w: &World, p: &Path, service: &str, path: &str) -> Option<String> {
    let out = w.berth_in(p, &["exec", "-T", service, "cat", path]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits until `cat PATH` in SERVICE shows `text`.
fn await_in(w: &World, p: &Path, service: &str, path: &str, text: &str) {
    w.wait_until(60, &format!("{path} in {service} to hold {text:?}"), || {
        cat_in(w, p, service, path).is_some_and(|c| c.contains(text))
    });
}

/// `exec SERVICE stat PATH` fails with "No such file or directory".
fn assert_absent(w: &World, p: &Path, service: &str, path: &str) {
    let out = w.berth_in(p, &["exec", "-T", service, "stat", path]);
    assert_eq!(out.status.code(), Some(1), "{path} exists in {service}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No such file or directory"), "{err}");
}

/// Ends an `up --watch` as the Go tests do (`kill -s 9`), then takes the project
/// down (with `down_args`) and checks nothing is left.
fn end_up_watch(w: &World, p: &Path, up: Background, down_args: &[&str]) {
    w.ok(p, &["kill", "-s", "9"]);
    drop(up);
    let mut args = vec!["down", "-t", "0"];
    args.extend_from_slice(down_args);
    w.ok(p, &args);
    w.assert_clean();
}

/// Writes `contents` + newline to `dir/name`, making parent directories.
fn write_file(dir: &Path, name: &str, contents: &str) {
    let dest = dir.join(name);
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    fs::write(dest, format!("{contents}\n")).unwrap();
}

const WATCH: &str = r#"
x-dev: &x-dev
  watch:
    - action: sync
      path: ./data
      target: /app/data
      ignore:
        - '*.foo'
        - ./ignored
    - action: sync+restart
      path: ./config
      target: /app/config

services:
  busybox:
    build:
      dockerfile_inline: |-
        FROM IMAGE
        RUN mkdir -p /app/data
        RUN mkdir -p /app/config
    init: true
    command: sleep infinity
    develop: *x-dev
"#;

// watch_test.go § TestWatch (the busybox variant; alpine and debian are the same
// steps on other bases): sync creates, changes and deletes files and directories,
// ignores what the rule ignores, and sync+restart copies then restarts.
#[test]
fn test_watch() {
    let w = World::new();
    let svc = "busybox";
    let p = w.project("e2e-watch-busybox", WATCH);
    let data = p.join("data");
    let config = p.join("config");
    fs::create_dir(&data).unwrap();
    // watch brings the project up itself (building the image), then watches.
    let mut watch = Watching::start(&w, &p, &["--verbose", svc], &[]);
    let flush = |n: u32| {
        let sentinel = format!("sentinel-{n}");
        write_file(&data, "wait.txt", &sentinel);
        await_in(&w, &p, svc, "/app/data/wait.txt", &sentinel);
    };

    write_file(&data, "hello.txt", "hello world");
    await_in(&w, &p, svc, "/app/data/hello.txt", "hello world");

    write_file(&data, "hello.txt", "hello watch");
    await_in(&w, &p, svc, "/app/data/hello.txt", "hello watch");

    fs::remove_file(data.join("hello.txt")).unwrap();
    flush(1);
    assert_absent(&w, &p, svc, "/app/data/hello.txt");

    write_file(&data, "data.foo", "ignored");
    write_file(&data, "ignored/hello.txt", "ignored");
    flush(2);
    assert_absent(&w, &p, svc, "/app/data/data.foo");
    assert_absent(&w, &p, svc, "/app/data/ignored");

    fs::create_dir(data.join("subdir")).unwrap();
    flush(3);
    w.ok(&p, &["exec", "-T", svc, "stat", "/app/data/subdir"]);

    write_file(&data, "subdir/file.txt", "a");
    await_in(&w, &p, svc, "/app/data/subdir/file.txt", "a");
    for v in ["x", "y", "z"] {
        write_file(&data, "subdir/file.txt", v);
    }
    await_in(&w, &p, svc, "/app/data/subdir/file.txt", "z");
    for v in ["z", "y", "x"] {
        write_file(&data, "subdir/file.txt", v);
    }
    await_in(&w, &p, svc, "/app/data/subdir/file.txt", "x");

    fs::remove_dir_all(data.join("subdir")).unwrap();
    flush(4);
    assert_absent(&w, &p, svc, "/app/data/subdir");

    // sync and restart
    fs::create_dir(&config).unwrap();
    write_file(&config, "file.config", "This is an updated config file");
    watch.wait_line(&format!("service(s) [{svc:?}] restarted"), 60);
    await_in(
        &w,
        &p,
        svc,
        "/app/config/file.config",
        "This is an updated config file",
    );
    drop(watch);
    w.ok(&p, &["down", "-t", "0", "--rmi", "local"]);
    w.assert_clean();
}

// watch_test.go § TestRebuildOnDotEnvWithExternalNetwork: a rebuild triggered by
// a change to .env recreates the service on the same external network, once.
#[test]
fn test_rebuild_on_dot_env_with_external_network() {
    let w = World::new();
    let net = format!("e2e-watch-ext-{}", std::process::id());
    // The external network exists before: another project made it.
    let owner = w.project(
        "extnet-owner",
        &format!(
            "services:\n  holder:\n    image: IMAGE\n    init: true\n    command: sleep infinity\n    networks: [n]\nnetworks:\n  n:\n    name: {net}\n"
        ),
    );
    w.ok(&owner, &["up", "-d"]);
    let p = w.project(
        "test_rebuild_on_dotenv_with_external_network",
        &format!(
            r#"
services:
  ext-alpine:
    build:
      dockerfile_inline: |-
        FROM IMAGE
    init: true
    command: sleep infinity
    develop:
      watch:
        - action: rebuild
          path: .env
    networks:
      - external_network_test

networks:
  external_network_test:
    name: {net}
    external: true
"#
        ),
    );
    fs::write(p.join(".env"), "HELLO=WORLD").unwrap();
    let network_of = || {
        let ps = w.ps(&p);
        assert_eq!(ps.len(), 1, "{ps:?}");
        ps[0]["Networks"].as_str().unwrap_or_default().to_string()
    };
    let mut watch = Watching::start(&w, &p, &["ext-alpine"], &[]);
    assert_eq!(network_of(), net);
    let first_id = w.ps(&p)[0]["ID"].as_str().unwrap_or_default().to_string();
    fs::write(p.join(".env"), "HELLO=WORLD\nTEST=REBUILD").unwrap();
    watch.wait_line("service(s) [\"ext-alpine\"] successfully built", 120);
    // The old container runs on until its replacement is made: wait for the
    // replacement itself, alone and running.
    w.wait_until(60, "the rebuilt container to run", || {
        let ps = w.ps(&p);
        ps.len() == 1 && ps[0]["State"] == "running" && ps[0]["ID"] != first_id.as_str()
    });
    assert_eq!(network_of(), net);
    let seen = watch.drain().join("\n");
    assert!(
        !seen.contains("Application failed to start after update"),
        "{seen}"
    );
    assert_eq!(seen.matches("successfully built").count(), 1, "{seen}");
    drop(watch);
    w.ok(&p, &["down", "-t", "0", "--rmi", "local"]);
    w.ok(&owner, &["down", "-t", "0"]);
    w.assert_clean();
}

// watch_test.go § TestWatchExec: `up --watch` with a sync+exec rule runs the
// rule's command in the container when a file changes, its output in up's log.
#[test]
fn test_watch_exec() {
    let w = World::new();
    let p = w.project(
        "test_watch_exec",
        r#"
services:
  test:
    build:
      dockerfile_inline: FROM IMAGE
    command: ping localhost
    volumes:
      - /data
    develop:
      watch:
        - path: .
          target: /data
          initial_sync: true
          action: sync+exec
          exec:
            command: echo "SUCCESS"
"#,
    );
    let up = Background::start(&w, &p, &["up", "--watch"], &[]);
    up.wait_for(&w, 120, "64 bytes from");
    fs::write(p.join("test"), "test\n").unwrap();
    up.wait_for(&w, 60, "SUCCESS");
    end_up_watch(&w, &p, up, &["--rmi", "local"]);
}

/// The rebuild fixture: three services built from one watched file.
fn rebuild_three() -> String {
    let mut yaml = String::from("services:\n");
    for s in ["a", "b", "c"] {
        yaml.push_str(&format!(
            "  {s}:\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN mkdir -p /data\n        COPY test /data/{s}\n    init: true\n    command: sleep infinity\n    develop:\n      watch:\n        - path: test\n          action: rebuild\n"
        ));
    }
    yaml
}

// watch_test.go § TestWatchMultiServices: one file watched by three services'
// rebuild rules rebuilds and recreates all three.
#[test]
fn test_watch_multi_services() {
    let w = World::new();
    let p = w.project("test_watch_rebuild", &rebuild_three());
    fs::write(p.join("test"), "test").unwrap();
    let up = Background::start(&w, &p, &["up", "--build", "--watch"], &[]);
    up.wait_for(&w, 120, "Attaching to ");
    for s in ["a", "b", "c"] {
        await_in(&w, &p, s, &format!("/data/{s}"), "test");
    }
    up.wait_for(&w, 60, "Watch enabled");
    fs::write(p.join("test"), "updated").unwrap();
    for s in ["a", "b", "c"] {
        await_in(&w, &p, s, &format!("/data/{s}"), "updated");
    }
    end_up_watch(&w, &p, up, &["--rmi", "local"]);
}

// watch_test.go § TestWatchRebuildIgnoresDependencies (docker/compose#13853): a
// watch rebuild of a service does not rebuild what it depends on.
#[test]
fn test_watch_rebuild_ignores_dependencies() {
    let w = World::new();
    let p = w.project(
        "test_watch_rebuild_deps",
        r#"
services:
  backend:
    build:
      dockerfile_inline: |
        FROM IMAGE
        RUN echo "backend_build_marker" > /built
    command: sleep infinity
    init: true
    stop_signal: SIGTERM
  frontend:
    build:
      dockerfile_inline: |
        FROM IMAGE
        COPY test /tmp/test
        RUN echo "frontend_build_marker" > /built
    command: sleep infinity
    init: true
    stop_signal: SIGTERM
    depends_on:
      - backend
    develop:
      watch:
        - path: test
          action: rebuild
"#,
    );
    fs::write(p.join("test"), "initial").unwrap();
    let up = Background::start(&w, &p, &["up", "--build", "--watch"], &[]);
    up.wait_for(&w, 120, "Watch enabled");
    // What each stream printed after this point is the rebuild's.
    let cutoff = (up.stdout().len(), up.stderr().len());
    let since = || format!("{}{}", &up.stdout()[cutoff.0..], &up.stderr()[cutoff.1..]);
    fs::write(p.join("test"), "updated").unwrap();
    w.wait_until(120, "the rebuild to finish", || {
        since().contains("service(s) [\"frontend\"] successfully built")
    });
    let log = since();
    assert!(
        log.contains("Rebuilding service(s) [\"frontend\"]"),
        "{log}"
    );
    assert!(!log.contains("backend Building"), "{log}");
    assert!(!log.contains("backend Built"), "{log}");
    await_in(&w, &p, "frontend", "/tmp/test", "updated");
    end_up_watch(&w, &p, up, &["--rmi", "local"]);
}

// watch_test.go § TestWatchSyncIntoSymlinkedDirectory (docker/compose#13795): a
// directory synced onto a path the container has as a symlink lands through it.
#[test]
fn test_watch_sync_into_symlinked_directory() {
    let w = World::new();
    let p = w.project(
        "test_watch_symlink",
        r#"
services:
  app:
    image: IMAGE
    init: true
    # /app/data/sub is a symlink, so synced files have to land in /var/sub through it
    command: sh -c 'mkdir -p /app/data /var/sub && ln -s /var/sub /app/data/sub && sleep infinity'
    develop:
      watch:
        - action: sync
          path: ./data
          target: /app/data
"#,
    );
    let data = p.join("data");
    fs::create_dir(&data).unwrap();
    // Filled outside the watched tree and moved in: one change carries the
    // directory with its content, as a branch switch does.
    let staged = p.join("staged");
    fs::create_dir(&staged).unwrap();
    fs::write(staged.join("hello.txt"), "hello symlink\n").unwrap();
    let up = Background::start(&w, &p, &["up", "--watch"], &[]);
    up.wait_for(&w, 120, "Watch enabled");
    // The symlink is made by the command: wait for it before the move.
    w.wait_until(60, "the symlink", || {
        w.berth_in(&p, &["exec", "-T", "app", "test", "-L", "/app/data/sub"])
            .status
            .success()
    });
    fs::rename(&staged, data.join("sub")).unwrap();
    await_in(&w, &p, "app", "/var/sub/hello.txt", "hello symlink");
    w.ok(&p, &["exec", "-T", "app", "test", "-L", "/app/data/sub"]);
    let out = up.output();
    assert!(!out.contains("cannot overwrite non-directory"), "{out}");
    end_up_watch(&w, &p, up, &[]);
}

// watch_test.go § TestWatchIncludes: a rule's `include` patterns limit what it
// syncs (A.test goes in, B.test does not).
#[test]
fn test_watch_includes() {
    let w = World::new();
    let p = w.project(
        "test_watch_includes",
        r#"
services:
  a:
    build:
      dockerfile_inline: |
        FROM IMAGE
        RUN mkdir /watched/
    init: true
    command: sleep infinity
    develop:
      watch:
        - path: .
          include: A.*
          target: /watched/
          action: sync
"#,
    );
    let up = Background::start(&w, &p, &["up", "--watch"], &[]);
    up.wait_for(&w, 120, "Attaching to ");
    up.wait_for(&w, 60, "Watch enabled");
    fs::write(p.join("B.test"), "test").unwrap();
    fs::write(p.join("A.test"), "test").unwrap();
    let ls = || w.ok(&p, &["exec", "-T", "a", "ls", "/watched/"]);
    w.wait_until(60, "A.test in /watched", || ls().contains("A.test"));
    assert!(!ls().contains("B.test"), "{}", ls());
    end_up_watch(&w, &p, up, &["--rmi", "local"]);
}

// watch_test.go § TestCheckWarningXInitialSyn: the `x-initialSync` extension is
// still read, with docker compose's deprecation warning.
#[test]
fn test_check_warning_x_initial_syn() {
    let w = World::new();
    let p = w.project(
        "test_watch_warn_initial_syn",
        r#"
services:
  test:
    build:
      dockerfile_inline: FROM IMAGE
    command: ping localhost
    volumes:
      - /data
    develop:
      watch:
        - path: .
          target: /data
          action: sync+exec
          exec:
            command: echo "SUCCESS"
          x-initialSync: true
"#,
    );
    let up = Background::start(&w, &p, &["--verbose", "up", "--watch"], &[]);
    w.wait_until(120, "the deprecation warning", || {
        up.output().contains(
            "x-initialSync is DEPRECATED, please use the official `initial_sync` attribute",
        )
    });
    end_up_watch(&w, &p, up, &["--rmi", "local"]);
}
