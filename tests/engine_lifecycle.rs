//! `up -d`, `ps`, `logs`, recreate, scale, orphans, `down`: a user's session with
//! real containers on berth's own runtime (as root).

mod common;

use common::{free_port, http_get, World};

fn id_of(ps: &[serde_json::Value], name: &str) -> String {
    ps.iter()
        .find(|c| c["Name"] == name)
        .unwrap_or_else(|| panic!("no container {name} in {ps:?}"))["ID"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn services_reach_each_other_by_name_and_alias_and_down_leaves_nothing() {
    let w = World::new();
    let p = w.project(
        "reach",
        r#"
services:
  server:
    image: IMAGE
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do echo pong | nc -l -p 7000; done & wait"]
    networks:
      default:
        aliases: [backend]
  client:
    image: IMAGE
    init: true
    depends_on: [server]
    command:
      - sh
      - -c
      - |
        until ping -c1 -W1 server >/dev/null 2>&1; do sleep 0.1; done; echo reached server
        until ping -c1 -W1 backend >/dev/null 2>&1; do sleep 0.1; done; echo reached backend
        until ping -c1 -W1 reach-server-1 >/dev/null 2>&1; do sleep 0.1; done; echo reached container name
        sleep 3600
"#,
    );
    let out = w.berth_in(&p, &["up", "-d"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Container reach-server-1 Started"), "{err}");
    assert!(err.contains("Network reach_default Created"), "{err}");

    let ps = w.ps(&p);
    assert_eq!(ps.len(), 2);
    for c in &ps {
        assert_eq!(c["State"], "running", "{c}");
        assert_eq!(c["Project"], "reach");
        assert!(c["Labels"]
            .as_str()
            .unwrap()
            .contains("com.docker.compose.config-hash="));
    }
    w.wait_until(30, "the client to reach the server by every name", || {
        w.ok(&p, &["logs", "client"])
            .contains("reached container name")
    });
    let logs = w.ok(&p, &["logs", "--no-log-prefix", "client"]);
    assert!(logs.contains("reached server\nreached backend\n"), "{logs}");

    // A second `up -d` touches nothing.
    let out = w.berth_in(&p, &["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Container reach-server-1 Running"), "{err}");
    assert_eq!(
        id_of(&w.ps(&p), "reach-server-1"),
        id_of(&ps, "reach-server-1")
    );

    let out = w.berth_in(&p, &["down"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(w.ps(&p).is_empty());
    w.assert_clean();
}

#[test]
fn a_published_port_reaches_the_service_from_the_host() {
    let w = World::new();
    let port = free_port();
    let p = w.project(
        "web",
        &format!(
            r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-berth > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
      - "127.0.0.1:{port}:8080"
"#
        ),
    );
    w.ok(&p, &["up", "-d"]);
    let mut body = String::new();
    w.wait_until(20, "the published port to answer", || {
        body = http_get(port, "/index.html").unwrap_or_default();
        body.contains("hello-from-berth")
    });
    assert_eq!(
        w.ok(&p, &["port", "web", "8080"]).trim(),
        format!("127.0.0.1:{port}")
    );
    let ps = w.ps(&p);
    assert_eq!(ps[0]["Ports"], format!("127.0.0.1:{port}->8080/tcp"));
    w.ok(&p, &["down"]);
    assert!(
        http_get(port, "/").is_none(),
        "port still published after down"
    );
    w.assert_clean();
}

#[test]
fn a_changed_service_is_recreated_alone_keeping_its_number() {
    let w = World::new();
    let yaml = |value: &str| {
        format!(
            r#"
services:
  a:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    environment:
      VALUE: "{value}"
  b:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
"#
        )
    };
    let p = w.project("recreate", &yaml("one"));
    w.ok(&p, &["up", "-d"]);
    let before = w.ps(&p);
    w.project("recreate", &yaml("two"));
    let plan = w.ok(&p, &["plan"]);
    assert!(
        plan.contains("recreate-a-1: recreate (changed: environment.VALUE)"),
        "{plan}"
    );
    assert!(plan.contains("recreate-b-1: keep"), "{plan}");
    let out = w.berth_in(&p, &["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let after = w.ps(&p);
    assert_ne!(
        id_of(&before, "recreate-a-1"),
        id_of(&after, "recreate-a-1")
    );
    assert_eq!(
        id_of(&before, "recreate-b-1"),
        id_of(&after, "recreate-b-1")
    );
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|c| c["State"] == "running"));

    let out = w.berth_in(&p, &["up", "-d", "--force-recreate", "b"]);
    assert!(out.status.success());
    assert_ne!(
        id_of(&after, "recreate-b-1"),
        id_of(&w.ps(&p), "recreate-b-1")
    );
    w.ok(&p, &["down"]);
    w.assert_clean();
}

#[test]
fn scale_up_and_down_and_orphans() {
    let w = World::new();
    let two = r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
  extra:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
"#;
    let p = w.project("scale", two);
    w.ok(&p, &["up", "-d", "--scale", "web=3"]);
    let names: Vec<String> = w
        .ps(&p)
        .iter()
        .map(|c| c["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["scale-extra-1", "scale-web-1", "scale-web-2", "scale-web-3"]
    );
    w.ok(&p, &["up", "-d", "--scale", "web=1"]);
    let names: Vec<String> = w
        .ps(&p)
        .iter()
        .map(|c| c["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["scale-extra-1", "scale-web-1"]);

    // `extra` leaves the file: an orphan, warned about, removed on request.
    w.project(
        "scale",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
"#,
    );
    let out = w.berth_in(&p, &["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Found orphan containers ([scale-extra-1])"),
        "{err}"
    );
    assert_eq!(w.ps(&p).len(), 2);
    w.ok(&p, &["up", "-d", "--remove-orphans"]);
    assert_eq!(w.ps(&p).len(), 1);
    w.ok(&p, &["down"]);
    w.assert_clean();
}

#[test]
fn named_volumes_outlive_down_unless_asked_and_are_seeded_from_the_image() {
    let w = World::new();
    let p = w.project(
        "vol",
        r#"
services:
  writer:
    image: IMAGE
    init: true
    command: ["sh", "-c", "cat /data/seed; date >> /data/runs; sleep 3600"]
    volumes:
      - data:/data
  other:
    image: IMAGE
    command: ["sleep", "3600"]
    volumes:
      - cache:/cache
volumes:
  data:
  cache:
"#,
    );
    w.ok(&p, &["up", "-d"]);
    w.wait_until(20, "the seed to be read", || {
        w.ok(&p, &["logs"]).contains("from the image")
    });
    // `volumes` lists the project's volumes, or those of the named services.
    assert_eq!(w.ok(&p, &["volumes", "-q"]), "vol_cache\nvol_data\n");
    assert_eq!(w.ok(&p, &["volumes", "-q", "writer"]), "vol_data\n");
    let table = w.ok(&p, &["volumes", "writer"]);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [vec!["DRIVER", "VOLUME", "NAME"], vec!["local", "vol_data"]]
    );
    let json: serde_json::Value =
        serde_json::from_str(w.ok(&p, &["volumes", "--format", "json", "other"]).trim()).unwrap();
    assert_eq!(json["Name"], "vol_cache");
    assert_eq!(json["Driver"], "local");
    assert!(json["Labels"]
        .as_str()
        .unwrap()
        .contains("com.docker.compose.project=vol"));
    w.ok(&p, &["down"]);
    let runs = w.root().join("volumes/vol_data/_data/runs");
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 1);
    w.ok(&p, &["up", "-d"]);
    w.wait_until(20, "the second run to write", || {
        std::fs::read_to_string(&runs)
            .map(|s| s.lines().count() == 2)
            .unwrap_or(false)
    });
    w.ok(&p, &["down", "-v"]);
    assert!(!w.root().join("volumes/vol_data").exists());
    assert_eq!(w.ok(&p, &["volumes", "-q"]), "");
    w.assert_clean();
}
