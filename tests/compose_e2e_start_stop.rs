//! docker compose's `pkg/e2e/start_stop_test.go` scenarios, run against berth.
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

use common::scenario::{ids, ls, map, run, started_at, wait_states};
use common::{by_name, states, World};

// SCENARIOS.md § TestStartStop (start_stop_test.go): stop must halt the project's
// containers in place, start must bring the same ones back.
#[test]
fn test_start_stop() {
    let w = World::new();
    let p = w.project(
        "startstop",
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
    // up starts every service
    w.ok(&p, &["up", "-d"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("startstop-another-1", "running"),
            ("startstop-simple-1", "running")
        ])
    );
    let before = ids(&w, &p);
    // ls reports the project as running
    assert_eq!(
        ls(&w, &p, false).get("startstop").map(String::as_str),
        Some("running(2)")
    );
    // stop halts the containers without removing them
    w.ok(&p, &["stop"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("startstop-another-1", "exited"),
            ("startstop-simple-1", "exited")
        ])
    );
    assert_eq!(ids(&w, &p), before);
    // a stopped project is hidden from ls
    assert!(!ls(&w, &p, false).contains_key("startstop"));
    // ls --all still lists the stopped project
    assert_eq!(
        ls(&w, &p, true).get("startstop").map(String::as_str),
        Some("exited(2)")
    );
    // start brings the same containers back
    w.ok(&p, &["start"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("startstop-another-1", "running"),
            ("startstop-simple-1", "running")
        ])
    );
    assert_eq!(ids(&w, &p), before);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestUpNoDeps (start_stop_test.go): up --no-deps must not create
// the service's dependencies.
#[test]
fn test_up_no_deps() {
    let w = World::new();
    let p = w.project(
        "nodeps",
        r#"
services:
  foo:
    image: IMAGE
    init: true
    command: sleep infinity
    links:
      - bar
  bar:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // up --no-deps starts only the requested service
    w.ok(&p, &["up", "-d", "--no-deps", "foo"]);
    assert_eq!(states(&w, &p), map(&[("nodeps-foo-1", "running")]));
    w.ok(&p, &["down", "-t", "0"]);
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
    let services = ids(&w, &p);
    // run adds a one-off container alongside the service
    let oneoff = w
        .ok(&p, &["run", "-d", "bar", "sleep", "infinity"])
        .trim()
        .to_string();
    let oneoff_id = by_name(&w, &p)[&oneoff]["ID"].as_str().unwrap().to_string();
    // The one-off is untouched when the start of its current run stays the same
    // (a restart, even within the same second, records a new one).
    let oneoff_started = started_at(&w, &oneoff_id).expect("the one-off has started");
    let untouched = |w: &World| {
        assert_eq!(states(w, &p)[&oneoff], "running");
        assert_eq!(started_at(w, &oneoff_id), Some(oneoff_started));
    };
    untouched(&w);
    // stop halts the services but not the one-off
    w.ok(&p, &["stop", "-t", "0"]);
    let st = states(&w, &p);
    assert_eq!(st["ssoneoff-foo-1"], "exited");
    assert_eq!(st["ssoneoff-bar-1"], "exited");
    untouched(&w);
    // start resumes the services without touching the one-off
    w.ok(&p, &["start"]);
    let st = states(&w, &p);
    assert_eq!(st["ssoneoff-foo-1"], "running");
    assert_eq!(st["ssoneoff-bar-1"], "running");
    untouched(&w);
    // restart restarts the services but not the one-off
    let foo_id = &services["ssoneoff-foo-1"];
    let foo_started = started_at(&w, foo_id);
    w.ok(&p, &["restart", "-t", "0"]);
    let st = states(&w, &p);
    assert_eq!(st["ssoneoff-foo-1"], "running");
    assert_eq!(st["ssoneoff-bar-1"], "running");
    assert_ne!(started_at(&w, foo_id), foo_started, "foo was restarted");
    untouched(&w);
    let mut now = ids(&w, &p);
    now.remove(&oneoff);
    assert_eq!(now, services, "restart recreated a service container");
    // down --remove-orphans removes the one-off as well
    w.ok(&p, &["down", "-t", "0", "--remove-orphans"]);
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}

// SCENARIOS.md § TestStartSingleServiceAndDependency (start_stop_test.go): start
// of a created service must start its dependency chain and nothing else.
#[test]
fn test_start_single_service_and_dependency() {
    let w = World::new();
    let p = w.project(
        "startdeps",
        r#"
services:
  desired:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      - dep_1
  dep_1:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      - dep_2
  dep_2:
    image: IMAGE
    init: true
    command: sleep infinity
  another:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      - another_2
  another_2:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // create prepares the desired service and its dependencies only
    w.ok(&p, &["create", "desired"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("startdeps-dep_1-1", "created"),
            ("startdeps-dep_2-1", "created"),
            ("startdeps-desired-1", "created"),
        ])
    );
    // start brings up the desired service with its dependencies, nothing else
    w.ok(&p, &["start", "desired"]);
    assert_eq!(
        states(&w, &p),
        map(&[
            ("startdeps-dep_1-1", "running"),
            ("startdeps-dep_2-1", "running"),
            ("startdeps-desired-1", "running"),
        ])
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// fixtures/start-stop/compose.yaml, nginx replaced by a sleeping busybox.
const START_STOP_FIXTURE: &str = r#"
services:
  simple:
    image: IMAGE
    init: true
    command: sleep infinity
  another:
    image: IMAGE
    init: true
    command: sleep infinity
"#;

// SCENARIOS.md § TestStartStopWithDependencies (start_stop_test.go): stop must
// only halt the requested service, start must also start its dependencies.
#[test]
fn test_start_stop_with_dependencies() {
    let w = World::new();
    let p = w.project(
        "ssdeps",
        r#"
services:
  foo:
    image: IMAGE
    init: true
    command: sleep infinity
    depends_on:
      - bar
  bar:
    image: IMAGE
    init: true
    command: sleep infinity
"#,
    );
    // up starts the service and its dependency
    w.ok(&p, &["up", "-d"]);
    let both = |foo, bar| map(&[("ssdeps-bar-1", bar), ("ssdeps-foo-1", foo)]);
    assert_eq!(states(&w, &p), both("running", "running"));
    let before = ids(&w, &p);
    // stop foo leaves the dependency running
    w.ok(&p, &["stop", "-t", "0", "foo"]);
    assert_eq!(states(&w, &p), both("exited", "running"));
    // stop halts the whole project
    w.ok(&p, &["stop", "-t", "0"]);
    assert_eq!(states(&w, &p), both("exited", "exited"));
    // start foo brings its dependency back too
    w.ok(&p, &["start", "foo"]);
    assert_eq!(states(&w, &p), both("running", "running"));
    assert_eq!(ids(&w, &p), before);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

// SCENARIOS.md § TestStartAlreadyRunning (start_stop_test.go): start of a running
// service must succeed and write nothing to stdout.
#[test]
fn test_start_already_running() {
    let w = World::new();
    let p = w.project("startrunning", START_STOP_FIXTURE);
    w.ok(&p, &["up", "-d", "--wait"]);
    let before = ids(&w, &p);
    let (code, out, err) = run(&w, &p, &["start", "simple"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "", "no output should have been written to stdout");
    assert_eq!(ids(&w, &p), before);
    w.ok(&p, &["down", "-t", "0", "-v", "--remove-orphans"]);
    w.assert_clean();
}

// SCENARIOS.md § TestStopAlreadyStopped (start_stop_test.go): stop of a stopped
// service must succeed and report it stopped.
#[test]
fn test_stop_already_stopped() {
    let w = World::new();
    let p = w.project("stopstopped", START_STOP_FIXTURE);
    w.ok(&p, &["up", "-d", "--wait"]);
    // stop the container
    w.ok(&p, &["stop", "-t", "0", "simple"]);
    // attempt to stop it again
    let (code, _, err) = run(&w, &p, &["stop", "-t", "0", "simple"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Container stopstopped-simple-1 Stopped"),
        "{err}"
    );
    assert_eq!(states(&w, &p)["stopstopped-simple-1"], "exited");
    w.ok(&p, &["down", "-t", "0", "-v", "--remove-orphans"]);
    w.assert_clean();
}

// SCENARIOS.md § TestStartStopMultipleServices (start_stop_test.go): stop and
// start of several named services must report each of them.
#[test]
fn test_start_stop_multiple_services() {
    let w = World::new();
    let p = w.project("ssmulti", START_STOP_FIXTURE);
    w.ok(&p, &["up", "-d", "--wait"]);
    let (code, _, err) = run(&w, &p, &["stop", "-t", "0", "simple", "another"]);
    assert_eq!(code, 0, "{err}");
    for svc in ["simple", "another"] {
        let msg = format!("Container ssmulti-{svc}-1 Stopped");
        assert!(err.contains(&msg), "missing stop message for {svc}\n{err}");
    }
    let (code, _, err) = run(&w, &p, &["start", "simple", "another"]);
    assert_eq!(code, 0, "{err}");
    for svc in ["simple", "another"] {
        let msg = format!("Container ssmulti-{svc}-1 Started");
        assert!(err.contains(&msg), "missing start message for {svc}\n{err}");
    }
    wait_states(
        &w,
        &p,
        10,
        &[
            ("ssmulti-another-1", "running"),
            ("ssmulti-simple-1", "running"),
        ],
    );
    w.ok(&p, &["down", "-t", "0", "-v", "--remove-orphans"]);
    w.assert_clean();
}

// SCENARIOS.md § TestStartStopMultipleFiles (start_stop_test.go): stop with one
// compose file must stop that file's services only, though the project also
// runs the services of another file.
#[test]
fn test_start_stop_multiple_files() {
    let w = World::new();
    let p = w.project("ssfiles", START_STOP_FIXTURE);
    std::fs::write(
        p.join("other.yaml"),
        r#"
services:
  a-different-one:
    image: IMAGE
    init: true
    command: sleep infinity
  and-another-one:
    image: IMAGE
    init: true
    command: sleep infinity
"#
        .replace("IMAGE", common::IMAGE),
    )
    .unwrap();
    let proj = ["-p", "e2e-ssfiles"];
    let with = |file: &str, args: &[&str]| {
        let mut v = proj.to_vec();
        v.extend_from_slice(&["-f", file]);
        v.extend_from_slice(args);
        run(&w, &p, &v)
    };
    assert_eq!(with("compose.yaml", &["up", "-d"]).0, 0);
    let (code, _, err) = with("other.yaml", &["up", "-d"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = with("compose.yaml", &["stop", "-t", "0"]);
    assert_eq!(code, 0, "{err}");
    let all = format!("{out}{err}");
    for svc in ["simple", "another"] {
        let msg = format!("Container e2e-ssfiles-{svc}-1 Stopped");
        assert!(all.contains(&msg), "{all}");
    }
    for svc in ["a-different-one", "and-another-one"] {
        let msg = format!("Container e2e-ssfiles-{svc}-1 Stopped");
        assert!(!all.contains(&msg), "{all}");
    }
    // what the stop left: this file's services exited, the other file's running
    let ps = |file: &str| {
        let (code, out, err) = with(file, &["ps", "-a", "--format", "json"]);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap().to_string();
                (s("Name"), s("State"))
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (st1, st2) = (ps("compose.yaml"), ps("other.yaml"));
    assert_eq!(st1["e2e-ssfiles-simple-1"], "exited", "{st1:?}");
    assert_eq!(st1["e2e-ssfiles-another-1"], "exited", "{st1:?}");
    assert_eq!(st2["e2e-ssfiles-a-different-one-1"], "running", "{st2:?}");
    assert_eq!(st2["e2e-ssfiles-and-another-one-1"], "running", "{st2:?}");
    let (code, _, err) = with("compose.yaml", &["down", "-t", "0", "--remove-orphans"]);
    assert_eq!(code, 0, "{err}");
    w.assert_clean();
}
