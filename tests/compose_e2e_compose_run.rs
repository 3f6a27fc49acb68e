//! docker compose's `pkg/e2e/compose_run_test.go` scenarios, run against berth.
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

use common::scenario::{combined, last_line, oneoffs};
use common::{by_name, fails, free_port, states, World};
use image_support::{busybox_layout, Registry};
use std::fs;
use std::io::Write;
use std::process::Stdio;

// SCENARIOS.md § TestComposeRun (compose_run_test.go): run must execute a one-off
// with the service command or an override, starting its dependencies.
#[test]
fn test_compose_run() {
    let w = World::new();
    let p = w.project(
        "runtest",
        r#"
services:
  back:
    image: IMAGE
    command: echo "Hello there!!"
    restart: always
    ports: ["127.0.0.1::80"]
    depends_on:
      - db
  db:
    image: IMAGE
    init: true
    command: sleep infinity
  front:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    fs::write(p.join("run.env"), "FOO=BAR\n").unwrap();
    // run executes the service's own command and starts its dependency
    let out = w.ok(&p, &["run", "-T", "back"]);
    assert_eq!(last_line(&out), "Hello there!!", "{out}");
    let st = states(&w, &p);
    assert_eq!(st.get("runtest-db-1").map(String::as_str), Some("running"));
    assert!(!st.keys().any(|n| n.starts_with("runtest-front")), "{st:?}");
    let first = oneoffs(&w, &p, "runtest", "back");
    assert_eq!(first.len(), 1, "{first:?}");
    let c = &first[0];
    // `restart: always` is ignored and `ports:` are not published for a one-off.
    assert_eq!(c["State"], "exited");
    assert_eq!(c["Publishers"].as_array().map(Vec::len), Some(0), "{c}");
    let name = c["Name"].as_str().unwrap();
    let slug = name.strip_prefix("runtest-back-run-").unwrap();
    assert_eq!(slug.len(), 12);
    let labels = c["Labels"].as_str().unwrap();
    for l in [
        "com.docker.compose.oneoff=True",
        "com.docker.compose.container-number=1",
        "com.docker.compose.project=runtest",
    ] {
        assert!(labels.contains(l), "{l} not in {labels}");
    }
    assert!(
        labels.contains(&format!("com.docker.compose.slug={slug}")),
        "{labels}"
    );

    // run with an override command warns about the previous one-off, now an orphan
    let out = w.berth_in(&p, &["run", "-T", "back", "echo", "Hello one more time"]);
    assert!(out.status.success(), "{}", combined(&out));
    assert_eq!(
        last_line(&String::from_utf8_lossy(&out.stdout)),
        "Hello one more time"
    );
    let text = combined(&out);
    assert!(
        text.contains("orphan") && text.contains(name),
        "no orphan warning:\n{text}"
    );
    // COMPOSE_IGNORE_ORPHANS silences the warning
    let out = w.berth_env(
        &p,
        &["run", "-T", "back", "echo", "Hello"],
        &[("COMPOSE_IGNORE_ORPHANS", "True")],
    );
    assert!(out.status.success(), "{}", combined(&out));
    assert!(!combined(&out).contains("orphan"), "{}", combined(&out));
    assert_eq!(oneoffs(&w, &p, "runtest", "back").len(), 3);

    // run --rm leaves the earlier one-offs alone and removes its own container
    let out = w.ok(&p, &["run", "-T", "--rm", "back", "echo", "Hello again"]);
    assert_eq!(last_line(&out), "Hello again");
    assert_eq!(oneoffs(&w, &p, "runtest", "back").len(), 3);

    // --remove-orphans takes the finished one-offs away
    w.ok(
        &p,
        &["run", "--rm", "--remove-orphans", "back", "echo", "tidy"],
    );
    assert_eq!(oneoffs(&w, &p, "runtest", "back").len(), 0);

    // run --volumes bind-mounts the requested host path
    let mount = format!("{}:/foo", p.display());
    let out = w.ok(
        &p,
        &["run", "--rm", "-v", &mount, "back", "sh", "-c", "ls /foo"],
    );
    assert!(out.lines().any(|l| l == "compose.yaml"), "{out}");

    // run --env-from-file injects the file's variables; -e wins over the file
    let out = w.ok(
        &p,
        &[
            "run",
            "--rm",
            "--env-from-file",
            "run.env",
            "back",
            "sh",
            "-c",
            "echo $FOO",
        ],
    );
    assert_eq!(last_line(&out), "BAR");
    let out = w.ok(
        &p,
        &[
            "run",
            "--rm",
            "--env-from-file",
            "run.env",
            "-e",
            "FOO=QUX",
            "back",
            "sh",
            "-c",
            "echo $FOO",
        ],
    );
    assert_eq!(last_line(&out), "QUX");
    let err = fails(
        &w,
        &p,
        &["run", "--rm", "--env-from-file", "nope.env", "back"],
    );
    assert!(err.contains("nope.env"), "{err}");

    // run --env injects the variable
    let out = w.ok(
        &p,
        &[
            "run",
            "--rm",
            "-e",
            "FOO=BAR",
            "back",
            "sh",
            "-c",
            "echo $FOO",
        ],
    );
    assert_eq!(last_line(&out), "BAR");

    // -l adds a label
    let out = w.ok(
        &p,
        &["run", "-d", "-l", "purpose=audit", "back", "sleep", "30"],
    );
    let c = by_name(&w, &p)
        .remove(out.trim())
        .expect("the detached one-off");
    assert!(
        c["Labels"].as_str().unwrap().contains("purpose=audit"),
        "{c}"
    );
    // --cap-add / --cap-drop change the one-off's capabilities: docker's default
    // set (0xa80425fb) plus NET_ADMIN (bit 12) less CHOWN (bit 0)
    let out = w.ok(
        &p,
        &[
            "run",
            "--rm",
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "CHOWN",
            "back",
            "grep",
            "CapEff",
            "/proc/self/status",
        ],
    );
    assert!(out.contains("00000000a80435fa"), "{out}");
    let err = fails(&w, &p, &["run", "-l", "novalue", "back"]);
    assert!(err.contains("KEY=VALUE"), "{err}");
    let err = fails(
        &w,
        &p,
        &["run", "--service-ports", "--publish", "8080:80", "back"],
    );
    assert!(err.contains("incompatible"), "{err}");

    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}

// SCENARIOS.md § TestComposeRunDeps (compose_run_test.go): run must start the
// target's dependencies and nothing else, unless --no-deps.
#[test]
fn test_compose_run_deps() {
    let w = World::new();
    let p = w.project(
        "rundeps",
        r#"
services:
  service_a:
    image: IMAGE
    command: echo "a"
    depends_on:
      - shared_dep
  service_b:
    image: IMAGE
    command: echo "b"
    depends_on:
      - shared_dep
  shared_dep:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // run starts the shared dependency but not the sibling service
    let out = w.ok(&p, &["run", "--rm", "service_a"]);
    assert_eq!(last_line(&out), "a");
    let st = states(&w, &p);
    assert_eq!(
        st.get("rundeps-shared_dep-1").map(String::as_str),
        Some("running")
    );
    assert!(!st.keys().any(|n| n.contains("service_b")), "{st:?}");
    w.ok(&p, &["down", "-t", "0"]);
    // run --no-deps starts nothing but the one-off
    let out = w.ok(&p, &["run", "--no-deps", "service_a"]);
    assert_eq!(last_line(&out), "a");
    let names: Vec<String> = by_name(&w, &p).into_keys().collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("rundeps-service_a-run-"), "{names:?}");
    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    w.assert_clean();
}

// SCENARIOS.md § TestComposeRunNotRequiredDeps (compose_run_test.go): run must skip
// a dependency marked required: false when its profile is inactive.
#[test]
fn test_compose_run_not_required_deps() {
    let w = World::new();
    let p = w.project(
        "runoptdeps",
        r#"
services:
  foo:
    image: IMAGE
    command: echo "foo"
    depends_on:
      bar:
        required: false
        condition: service_healthy
  bar:
    image: IMAGE
    init: true
    command: sleep infinity
    profiles: [not-required]
"#,
    );
    // run executes the service without materializing the optional dependency
    let out = w.ok(&p, &["run", "--rm", "foo"]);
    assert_eq!(last_line(&out), "foo");
    assert!(w.ps(&p).is_empty());
    // like docker compose, the network stays until `down`
    w.ok(&p, &["down"]);
    w.assert_clean();
}

// `run --use-aliases`: without it a one-off answers only to its own name in DNS,
// as docker compose does; with it, to the service's network aliases too.
#[test]
fn test_run_use_aliases() {
    let w = World::new();
    let p = w.project(
        "usealiases",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: sleep infinity
    networks:
      default:
        aliases: [webalias]
  probe:
    image: IMAGE
"#,
    );
    let lookup =
        |name: &str| w.berth_in(&p, &["run", "--rm", "--no-deps", "probe", "nslookup", name]);
    // without the flag: the one-off's own name resolves, the alias does not
    let plain = w.ok(&p, &["run", "-d", "web"]).trim().to_string();
    let out = lookup(&plain);
    assert!(out.status.success(), "{}", combined(&out));
    let out = lookup("webalias");
    assert!(!out.status.success(), "{}", combined(&out));
    // with it: the alias resolves
    let aliased = w
        .ok(&p, &["run", "-d", "--use-aliases", "web"])
        .trim()
        .to_string();
    assert_ne!(plain, aliased);
    let out = lookup("webalias");
    assert!(out.status.success(), "{}", combined(&out));
    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    w.assert_clean();
}

// `run --entrypoint` is split as a shell would split it, and naming a profiled
// service activates its profile, as docker compose's `run` does.
#[test]
fn test_run_entrypoint_words_and_profiled_service() {
    let w = World::new();
    let p = w.project(
        "runwords",
        r#"
services:
  tool:
    image: IMAGE
    profiles: [tools]
    command: ["ignored-argv0"]
"#,
    );
    let out = w.ok(
        &p,
        &[
            "run",
            "--rm",
            "-T",
            "--entrypoint",
            r#"sh -c 'echo "a  b"'"#,
            "tool",
        ],
    );
    assert_eq!(last_line(&out), "a  b", "{out}");
    let out = w.berth_in(
        &p,
        &["run", "--rm", "-T", "--entrypoint", "sh -c 'open", "tool"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid --entrypoint"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// compose_run_test.go § TestComposeRunPorts: run must only publish ports when
// asked: --publish for ad-hoc, --service-ports for the model's.
#[test]
fn test_compose_run_ports() {
    let w = World::new();
    let (adhoc, model) = (free_port(), free_port());
    let p = w.project(
        "runports",
        &format!(
            r#"
services:
  back:
    image: IMAGE
    init: true
    ports:
      - 127.0.0.1:{model}:80
"#
        ),
    );
    // run --publish maps the requested port, not the model's
    let publish = format!("127.0.0.1:{adhoc}:80");
    w.ok(
        &p,
        &[
            "run",
            "--publish",
            &publish,
            "-d",
            "back",
            "/bin/sh",
            "-c",
            "sleep 30",
        ],
    );
    // the ad-hoc mapping is live
    let ps = w.ok(&p, &["ps"]);
    assert!(ps.contains(&format!(":{adhoc}->80/tcp")), "{ps}");
    assert!(!ps.contains(&format!(":{model}->80/tcp")), "{ps}");
    // run --service-ports maps the model's ports
    w.ok(
        &p,
        &[
            "run",
            "--service-ports",
            "-d",
            "back",
            "/bin/sh",
            "-c",
            "sleep 30",
        ],
    );
    // the model's mapping is live
    let ps = w.ok(&p, &["ps"]);
    assert!(ps.contains(&format!(":{model}->80/tcp")), "{ps}");
    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    w.assert_clean();
}

/// A registry on loopback serving the busybox image as `test/busybox:v1`; its
/// reference.
fn registry_image() -> (Registry, String) {
    let reg = Registry::start(false);
    let layout = tempfile::tempdir().unwrap();
    busybox_layout(layout.path(), "gzip", "v1");
    reg.push_layout(layout.path(), "v1", "test/busybox:v1", false);
    let image = format!("{}/test/busybox:v1", reg.host());
    (reg, image)
}

// compose_run_test.go § TestComposeRunQuietPull: run --quiet-pull and
// COMPOSE_PROGRESS=quiet must silence pull progress at two levels.
#[test]
fn test_compose_run_quiet_pull() {
    let (_reg, image) = registry_image();
    let w = World::new();
    let p = w.project(
        "runquietpull",
        &format!(
            "services:\n  backend:\n    image: {image}\n    command: [/bin/busybox, echo, hello]\n"
        ),
    );
    // start without the image locally
    w.ok(&p, &["down", "--rmi", "all"]);
    // --quiet-pull keeps the decision but drops the layer progress
    let out = w.berth_in(&p, &["run", "--quiet-pull", "backend"]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("Pull complete"), "{text}");
    assert!(text.contains("Pulled"), "{text}");
    // remove the image again
    w.ok(&p, &["down", "--rmi", "all"]);
    // COMPOSE_PROGRESS=quiet silences the pull entirely
    let out = w.berth_env(&p, &["run", "backend"], &[("COMPOSE_PROGRESS", "quiet")]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("Pull complete"), "{text}");
    assert!(!text.contains("Pulled"), "{text}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello");
    w.ok(&p, &["down", "--rmi", "all", "--remove-orphans"]);
    w.assert_clean();
}

// compose_run_test.go § TestComposeRunPullAlways: run --pull always must pull the
// image even when present locally.
#[test]
fn test_compose_run_pull_always() {
    let (_reg, image) = registry_image();
    let w = World::new();
    let p = w.project(
        "runpullalways",
        &format!("services:\n  backend:\n    image: {image}\n    command: [/bin/busybox, echo, checked]\n"),
    );
    w.ok(&p, &["pull"]);
    // run reports the pull it was asked to always perform
    let out = w.berth_in(&p, &["run", "--pull", "always", "backend"]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("Image {image} Pulling")), "{text}");
    assert!(text.contains(&format!("Image {image} Pulled")), "{text}");
    // and without it, the local image serves
    let out = w.berth_in(&p, &["run", "backend"]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("Pulling"), "{text}");
    w.ok(&p, &["down", "--remove-orphans"]);
    w.assert_clean();
}

// compose_run_test.go § TestComposeRunRmStopSignal: a `run --rm -d` one-off is
// removed once something else stops it.
#[test]
fn test_compose_run_rm_stop_signal() {
    let w = World::new();
    let p = w.project(
        "runrmstop",
        r#"
services:
  nginx:
    image: IMAGE
    init: true
    command: httpd -f -p 8080
    expose:
    - '80'
    - '443'
    - '8080'
  busybox:
    image: IMAGE
    command: busybox httpd -f -p 8000
"#,
    );
    let name = w.ok(&p, &["run", "--rm", "-d", "nginx"]).trim().to_string();
    assert!(name.starts_with("runrmstop-nginx-run-"), "{name}");
    // `docker stop` from outside compose: the container's init gets its signal
    // from the host (berth has no command stopping a one-off by name).
    let top = w.ok(&p, &["top"]);
    let pid: i32 = top
        .split("\n\n")
        .find(|block| block.lines().next() == Some(name.as_str()))
        .and_then(|block| block.lines().nth(2))
        .and_then(|row| row.split_whitespace().nth(1))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no process of {name} in:\n{top}"));
    // SAFETY: kill(2) of the one-off's init, a process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    // --rm auto-removal follows the stop
    w.wait_until(30, "the one-off to be removed", || {
        !by_name(&w, &p).contains_key(&name)
    });
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// `echo INPUT | berth run ARGS`: (exit code, stdout, stderr).
fn piped(w: &World, p: &std::path::Path, input: &str, args: &[&str]) -> (i32, String, String) {
    let mut child = w
        .berth_command(p, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A run that refuses its stdin may close the pipe before reading it.
    let _ = writeln!(stdin, "{input}");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// compose_run_test.go § TestComposeRunPipedInput: piped stdin reaches the one-off,
// which then gets no TTY; asking for one with piped stdin is an error.
#[test]
fn test_compose_run_piped_input() {
    let w = World::new();
    let p = w.project(
        "runpiped",
        r#"
services:
  piped-test:
    image: IMAGE
    command: cat
    # Service that will receive piped input and echo it back
  tty-test:
    image: IMAGE
    command: sh -c "if [ -t 0 ]; then echo 'TTY detected'; else echo 'No TTY detected'; fi"
    # Service to test TTY detection
"#,
    );
    // compose run with piped input detection
    let (code, out, err) = piped(&w, &p, "piped-content", &["run", "--rm", "piped-test"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("piped-content"), "{out}\n{err}");
    // compose run piped input should not allocate TTY
    let (code, out, err) = piped(&w, &p, "", &["run", "--rm", "tty-test"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("No TTY detected"), "{out}\n{err}");
    // compose run piped input with explicit --tty should fail
    let refused = "cannot attach stdin to a TTY-enabled container because stdin is not a terminal";
    let (code, out, err) = piped(&w, &p, "test", &["run", "--rm", "--tty", "piped-test"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains(refused), "{err}");
    // compose run piped input with --no-tty=false should fail
    let (code, out, err) = piped(
        &w,
        &p,
        "test",
        &["run", "--rm", "--no-tty=false", "piped-test"],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains(refused), "{err}");
    w.ok(&p, &["down", "--remove-orphans"]);
    w.assert_clean();
}

// compose_run_test.go § TestComposeRunBuild: `run` of a service whose image is
// built from another service's build (an additional context `service:`) builds
// both, in order, and runs the command.
#[test]
fn test_compose_run_build() {
    let w = World::new();
    let p = w.project(
        "runbuild",
        r#"
services:
  build:
    build:
      dockerfile_inline: "FROM base"
      additional_contexts:
        base: "service:build_base"
  build_base:
    build:
      dockerfile_inline: "FROM IMAGE"
"#,
    );
    let out = w.berth_in(&p, &["run", "-T", "--rm", "build", "echo", "hello world"]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hello world"),
        "{text}"
    );
    w.ok(&p, &["down", "-t", "0", "--rmi", "local"]);
    w.assert_clean();
}
