//! docker compose's end-to-end scenarios for one-off containers (`run`, `exec`)
//! and service lifecycle hooks (`post_start`, `pre_stop`), run against berth.
//!
//! Each `test_*` named after a section of
//! `../shared/conformance/docker+compose/SCENARIOS.md` follows that section's
//! bullets, with its `testdata/<Test>/` fixture adapted to the busybox test image
//! (`alpine`/`bash` become `IMAGE`; a service without a command gets one). The
//! last tests cover berth's own flags: `run --use-aliases`, `exec --privileged`.
//!
//! Fixtures adapted from docker/compose@f729794 pkg/e2e/testdata (Apache-2.0).

mod common;

use std::fs;
use std::path::Path;

use common::{by_name, fails, states, World};

/// The last line of `text`.
fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or("")
}

/// The one-off containers of `service` (`<project>-<service>-run-<hex>`).
fn oneoffs(w: &World, p: &Path, project: &str, service: &str) -> Vec<serde_json::Value> {
    let prefix = format!("{project}-{service}-run-");
    by_name(w, p)
        .into_iter()
        .filter(|(n, _)| n.starts_with(&prefix))
        .map(|(_, c)| c)
        .collect()
}

/// stdout and stderr of a berth run with extra environment.
fn combined(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

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

// SCENARIOS.md § TestRunEnvFile (env_file_test.go): run must resolve the service's
// env_file relative to the project directory.
#[test]
fn test_run_env_file() {
    let w = World::new();
    let p = w.project(
        "runenvfile",
        r#"
services:
  serviceC:
    profiles: ["test"]
    image: IMAGE
    env_file: test.env
"#,
    );
    fs::write(p.join("test.env"), "FOO=BAR\n").unwrap();
    // the one-off sees the env_file's variables (run from another directory:
    // the file is found next to compose.yaml)
    let file = p.join("compose.yaml");
    let out = w.ok(
        w.dir.path(),
        &[
            "-f",
            file.to_str().unwrap(),
            "--profile",
            "test",
            "run",
            "--rm",
            "serviceC",
            "sh",
            "-c",
            "echo $FOO",
        ],
    );
    assert_eq!(last_line(&out), "BAR");
    w.ok(
        w.dir.path(),
        &["-f", file.to_str().unwrap(), "--profile", "test", "down"],
    );
    w.assert_clean();
}

// SCENARIOS.md § TestLocalComposeExecOneOff (compose_exec_test.go): exec must reach
// a one-off container, but --index must only match numbered replicas.
#[test]
fn test_local_compose_exec_oneoff() {
    let w = World::new();
    let p = w.project(
        "execoneoff",
        r#"
services:
  simple:
    image: IMAGE
    init: true
    command: sleep infinity
  another:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // run starts a detached one-off
    let name = w.ok(&p, &["run", "-d", "-e", "WHO=the-oneoff", "simple"]);
    assert!(name.trim().starts_with("execoneoff-simple-run-"), "{name}");
    // exec lands in the one-off container
    let out = w.ok(&p, &["exec", "-T", "simple", "sh", "-c", "echo $WHO"]);
    assert_eq!(out.trim(), "the-oneoff");
    // exec --index rejects a one-off: it is not replica #1
    let err = fails(&w, &p, &["exec", "-T", "--index", "1", "simple", "true"]);
    assert!(err.contains("not running container #1"), "{err}");
    // a paused container is refused with a clear message
    w.ok(&p, &["up", "-d", "another"]);
    w.ok(&p, &["pause", "another"]);
    let err = fails(&w, &p, &["exec", "-T", "another", "true"]);
    assert!(err.contains("is paused"), "{err}");
    w.ok(&p, &["unpause", "another"]);
    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    w.assert_clean();
}

// SCENARIOS.md § TestStartStopWithOneOffs (start_stop_test.go): stop, start and
// restart must act on services and leave one-off containers untouched.
#[test]
fn test_start_stop_with_oneoffs() {
    let w = World::new();
    let p = w.project(
        "ssoneoff",
        r#"
services:
  foo:
    image: IMAGE
    init: true
    command: sleep infinity
  bar:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // up starts the services
    w.ok(&p, &["up", "-d"]);
    // run adds a one-off container alongside the service
    let oneoff = w.ok(&p, &["run", "-d", "foo"]).trim().to_string();
    let started = |w: &World| by_name(w, &p)[&oneoff]["Status"].clone();
    let oneoff_status = started(&w);
    assert_eq!(by_name(&w, &p)[&oneoff]["State"], "running");
    // stop halts the services but not the one-off
    w.ok(&p, &["stop"]);
    let st = states(&w, &p);
    assert_eq!(st["ssoneoff-foo-1"], "exited");
    assert_eq!(st["ssoneoff-bar-1"], "exited");
    assert_eq!(st[&oneoff], "running");
    // start resumes the services without touching the one-off
    w.ok(&p, &["start"]);
    let st = states(&w, &p);
    assert_eq!(st["ssoneoff-foo-1"], "running");
    assert_eq!(st["ssoneoff-bar-1"], "running");
    assert_eq!(st[&oneoff], "running");
    // restart restarts the services but not the one-off
    w.ok(&p, &["restart"]);
    let st = states(&w, &p);
    assert_eq!(st["ssoneoff-foo-1"], "running");
    assert_eq!(st[&oneoff], "running");
    assert_eq!(started(&w), oneoff_status);
    // down --remove-orphans removes the one-off as well
    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}

/// The content of a file in a named volume of this world.
fn volume_file(w: &World, volume: &str, file: &str) -> String {
    fs::read_to_string(
        w.root()
            .join("volumes")
            .join(volume)
            .join("_data")
            .join(file),
    )
    .unwrap_or_default()
}

const HOOKS: &str = r#"
services:
  sample:
    image: IMAGE
    init: true
    command: sleep infinity
    volumes:
      - data:/data
    pre_stop:
      - command: sh -c 'echo "In the pre-stop" >> /data/log.txt'
  test:
    image: IMAGE
    init: true
    command: sleep infinity
    post_start:
      - command: sh -c 'echo env'
volumes:
  data:
"#;

// SCENARIOS.md § TestPostStartAndPreStopHook (hooks_test.go): post_start and
// pre_stop hooks in one project must not interfere with up.
#[test]
fn test_post_start_and_pre_stop_hook() {
    let w = World::new();
    let p = w.project("hooksboth", HOOKS);
    // up starts both services and runs the post_start hook
    let out = w.berth_in(&p, &["up", "-d"]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("not supported"),
        "hooks are supported:\n{text}"
    );
    let st = states(&w, &p);
    assert_eq!(st["hooksboth-sample-1"], "running");
    assert_eq!(st["hooksboth-test-1"], "running");
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// SCENARIOS.md § TestPreStopHookSuccess (hooks_test.go): a pre_stop hook must run
// in the container before it is stopped.
#[test]
fn test_pre_stop_hook_success() {
    let w = World::new();
    let p = w.project(
        "prestopok",
        r#"
services:
  sample:
    image: IMAGE
    init: true
    command: sleep infinity
    volumes:
      - data:/data
    pre_stop:
      - command: sh -c 'echo "In the pre-stop" >> /data/log.txt'
volumes:
  data:
"#,
    );
    // up starts the service
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p)["prestopok-sample-1"], "running");
    assert_eq!(volume_file(&w, "prestopok_data", "log.txt"), "");
    // stop runs the hook before halting the container
    w.ok(&p, &["stop"]);
    assert_eq!(states(&w, &p)["prestopok-sample-1"], "exited");
    // the hook's write is visible in the volume
    assert_eq!(
        volume_file(&w, "prestopok_data", "log.txt"),
        "In the pre-stop\n"
    );
    // a stopped container has nothing to run the hook in: down skips it
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// SCENARIOS.md § TestPreStopHookInError (hooks_test.go): a failing pre_stop hook
// must fail the down, reporting the hook's exit status.
#[test]
fn test_pre_stop_hook_in_error() {
    let w = World::new();
    let p = w.project(
        "prestopfail",
        r#"
services:
  sample:
    image: IMAGE
    init: true
    command: sleep infinity
    pre_stop:
      - command: sh -c 'command in error'
"#,
    );
    // up starts the service
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p)["prestopfail-sample-1"], "running");
    // down fails on the hook error
    let out = w.berth_in(&p, &["down", "-t", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", combined(&out));
    assert!(
        combined(&out).contains("sample hook exited with status 127"),
        "{}",
        combined(&out)
    );
    // berth still stops and removes the container: the project can be taken down
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}

// SCENARIOS.md § TestPreStopHookSuccessWithPreviousStop (hooks_test.go): stopping
// a single service must run its pre_stop hook and only halt that service.
#[test]
fn test_pre_stop_hook_success_with_previous_stop() {
    let w = World::new();
    let p = w.project("prestopone", HOOKS);
    // up starts both services
    w.ok(&p, &["up", "-d"]);
    // stop on the hooked service succeeds
    w.ok(&p, &["stop", "sample"]);
    let st = states(&w, &p);
    assert_eq!(st["prestopone-sample-1"], "exited");
    assert_eq!(st["prestopone-test-1"], "running");
    assert_eq!(
        volume_file(&w, "prestopone_data", "log.txt"),
        "In the pre-stop\n"
    );
    w.ok(&p, &["down", "-t", "0", "-v"]);
    w.assert_clean();
}

// hooks_test.go TestPostStartHookSuccess: a post_start hook must run after the
// service starts, without failing up — with its own user, working_dir and
// environment.
#[test]
fn test_post_start_hook_success() {
    let w = World::new();
    let p = w.project(
        "poststartok",
        r#"
services:
  test:
    image: IMAGE
    init: true
    command: sleep infinity
    post_start:
      - command: sh -c 'echo "$$(id -u) $$(pwd) $$GREETING" > /tmp/hook'
        user: nobody
        working_dir: /tmp
        environment:
          GREETING: hello
"#,
    );
    // up runs the hook and leaves the service running
    w.ok(&p, &["up", "-d"]);
    assert_eq!(states(&w, &p)["poststartok-test-1"], "running");
    let out = w.ok(&p, &["exec", "-T", "test", "cat", "/tmp/hook"]);
    assert_eq!(out, "65534 /tmp hello\n");
    // a restart starts the container again, and the hook runs again
    w.ok(&p, &["exec", "-T", "test", "rm", "/tmp/hook"]);
    w.ok(&p, &["restart"]);
    let out = w.ok(&p, &["exec", "-T", "test", "cat", "/tmp/hook"]);
    assert_eq!(out, "65534 /tmp hello\n");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// hooks_test.go TestPostStartHookInError: a failing post_start hook must fail up,
// reporting the hook's exit status.
#[test]
fn test_post_start_hook_in_error() {
    let w = World::new();
    let p = w.project(
        "poststartfail",
        r#"
services:
  test:
    image: IMAGE
    init: true
    command: sleep infinity
    post_start:
      - command: sh -c 'command in error'
"#,
    );
    // up fails on the hook error
    let out = w.berth_in(&p, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(1), "{}", combined(&out));
    assert!(
        combined(&out).contains("test hook exited with status 127"),
        "{}",
        combined(&out)
    );
    w.ok(&p, &["down", "-t", "0"]);
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

// `exec --privileged` gives the process every capability, whatever the container
// has; a `privileged: true` service starts with every capability too.
#[test]
fn test_exec_privileged() {
    let w = World::new();
    let p = w.project(
        "execpriv",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: sleep infinity
  priv:
    image: IMAGE
    init: true
    privileged: true
    command: sleep infinity
"#,
    );
    w.ok(&p, &["up", "-d"]);
    let caps = |args: &[&str]| {
        let out = w.ok(&p, args);
        out.lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no CapEff in {out}"))
    };
    // Everything berth itself may hold (this test's bounding set; where berth runs
    // without some capability, a privileged process cannot have it either).
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let full = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        caps(&["exec", "-T", "web", "cat", "/proc/self/status"]),
        "00000000a80425fb"
    );
    assert_eq!(
        caps(&[
            "exec",
            "-T",
            "--privileged",
            "web",
            "cat",
            "/proc/self/status"
        ]),
        full
    );
    assert_eq!(
        caps(&["exec", "-T", "priv", "cat", "/proc/self/status"]),
        full
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

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
