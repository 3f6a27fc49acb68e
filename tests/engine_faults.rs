//! Converging after faults (issue 19): a `down` killed while it stops containers,
//! networks half made or half removed, `down && up` and a killed DNS responder,
//! a killed supervisor, a full disk. Each test first makes the fault happen at a
//! chosen point (a kill at an awaited event, or `BERTH_FAULT=<point>`, which makes
//! berth SIGKILL itself there), then checks that the next `up` gives the whole
//! project back, and that `down` leaves nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{by_name, free_port, http_get, states, World};

/// `<root>/containers/<id>` of the container called `name`.
fn container_dir(w: &World, name: &str) -> Option<PathBuf> {
    std::fs::read_dir(w.root().join("containers"))
        .ok()?
        .flatten()
        .find(|e| {
            std::fs::read(e.path().join("container.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some_and(|r| r["name"] == name)
        })
        .map(|e| e.path())
}

/// `<run>/containers/<id>/status.json`: where a container's supervisor keeps its
/// status (the run dir, beside the root under `--root`).
fn status_path(w: &World, dir: &Path) -> PathBuf {
    w.root()
        .join("run/containers")
        .join(dir.file_name().unwrap_or_default())
        .join("status.json")
}

/// The status file of `name` as its supervisor last wrote it.
fn status_file(w: &World, name: &str) -> serde_json::Value {
    container_dir(w, name)
        .and_then(|d| std::fs::read(status_path(w, &d)).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X")
    })
}

/// berth with `BERTH_FAULT` set: it dies by SIGKILL at that point.
fn killed_at(w: &World, p: &Path, args: &[&str], point: &str) {
    let out = w.berth_env(p, args, &[("BERTH_FAULT", point)]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "berth {args:?} was to die at {point}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Bridges of this root's networks (from their records), to see them gone.
fn bridges(w: &World) -> Vec<String> {
    std::fs::read_dir(w.root().join("run/net/networks"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let v: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
                    Some(v["info"]["bridge"].as_str()?.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

fn nft_table_exists(name: &str) -> bool {
    Command::new("nft")
        .args(["list", "table", "inet", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

const LOOP: &str = r#"["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]"#;

#[test]
fn a_down_killed_while_stopping_is_undone_by_the_next_up() {
    let w = World::new();
    let p = w.project(
        "stopkill",
        &format!(
            r#"
services:
  slow:
    image: IMAGE
    command: {LOOP}
  always:
    image: IMAGE
    restart: always
    command: {LOOP}
    depends_on: [slow]
"#
        ),
    );
    w.ok(&p, &["up", "-d", "--wait"]);
    let before: Vec<i64> = ["stopkill-slow-1", "stopkill-always-1"]
        .iter()
        .map(|n| status_file(&w, n)["supervisor_pid"].as_i64().unwrap())
        .collect();
    // `down` asks `always` to stop (it ignores TERM: it stops at the deadline),
    // and is killed as soon as the stop is recorded.
    let mut down = w.berth_command(&p, &["down", "-t", "3"]).spawn().unwrap();
    w.wait_until(20, "the stop to be under way", || {
        status_file(&w, "stopkill-always-1")["stopped_by_user"] == true
    });
    down.kill().unwrap();
    down.wait().unwrap();
    // The next `up` starts again what was told to stop, instead of keeping a
    // container that is about to exit.
    w.ok(&p, &["up", "-d", "--wait"]);
    for (name, old) in ["stopkill-slow-1", "stopkill-always-1"].iter().zip(&before) {
        let st = status_file(&w, name);
        assert_eq!(st["state"], "running", "{name}: {st}");
        assert_eq!(st["stopped_by_user"], false, "{name}: {st}");
        let sup = st["supervisor_pid"].as_i64().unwrap();
        assert!(alive(sup), "{name}: its supervisor runs");
        if *name == "stopkill-always-1" {
            assert_ne!(sup, *old, "{name} is supervised anew");
            assert!(!alive(*old), "the stopping supervisor is gone");
        }
    }
    assert!(states(&w, &p).values().all(|s| s == "running"));

    // The same with `start` after the killed `down`.
    let mut down = w.berth_command(&p, &["down", "-t", "2"]).spawn().unwrap();
    w.wait_until(20, "the stop to be under way", || {
        status_file(&w, "stopkill-always-1")["stopped_by_user"] == true
    });
    down.kill().unwrap();
    down.wait().unwrap();
    w.ok(&p, &["start"]);
    let st = status_file(&w, "stopkill-always-1");
    assert_eq!(st["state"], "running", "{st}");
    assert_eq!(st["stopped_by_user"], false, "{st}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

fn web_project(w: &World, name: &str, port: u16) -> PathBuf {
    w.project(
        name,
        &format!(
            r#"
services:
  web:
    image: IMAGE
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1:{port}:8080"]
    networks: [default, back]
  api:
    image: IMAGE
    command: ["sleep", "3600"]
    networks: [back]
networks:
  back:
"#
        ),
    )
}

/// The published port answers (httpd may take a moment after `up --wait`:
/// running is not listening).
fn serves(port: u16) -> bool {
    let t0 = std::time::Instant::now();
    loop {
        if http_get(port, "/").is_some_and(|r| r.contains("ok")) {
            return true;
        }
        if t0.elapsed() > std::time::Duration::from_secs(5) {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_half_removed_or_half_made_network_is_rebuilt_by_up() {
    let w = World::new();
    let port = free_port();
    let p = web_project(&w, "halfnet", port);
    w.ok(&p, &["up", "-d", "--wait"]);
    assert!(serves(port));
    let brs = bridges(&w);
    assert_eq!(brs.len(), 2, "{brs:?}");

    // `down` killed right after it deleted a network's nft table: the record and
    // the bridge stay, the isolation and masquerade rules are gone.
    killed_at(&w, &p, &["down", "-t", "0"], "net:after-nft-delete");
    w.ok(&p, &["up", "-d", "--wait"]);
    assert!(serves(port), "the published port works again");
    for br in bridges(&w) {
        assert!(link_exists(&br) && nft_table_exists(&br), "{br} is whole");
    }

    // Killed after it deleted the bridge too: the record says the network
    // exists, the kernel does not have it.
    killed_at(&w, &p, &["down", "-t", "0"], "net:after-bridge-delete");
    w.ok(&p, &["up", "-d", "--wait"]);
    assert!(serves(port));
    w.ok(&p, &["exec", "api", "ping", "-c", "1", "-W", "2", "web"]);

    // `down` killed while removing a container: its network namespace, veth
    // and ports are gone, its record is still there.
    killed_at(&w, &p, &["down", "-t", "0"], "remove:after-unwire");
    w.ok(&p, &["up", "-d", "--wait"]);
    assert!(serves(port));
    w.ok(&p, &["exec", "api", "ping", "-c", "1", "-W", "2", "web"]);

    // `up` killed while making a network: bridge made, nft table never.
    w.ok(&p, &["down", "-t", "0"]);
    killed_at(&w, &p, &["up", "-d"], "net:after-bridge");
    w.ok(&p, &["up", "-d", "--wait"]);
    assert!(serves(port));
    for br in bridges(&w) {
        assert!(nft_table_exists(&br), "{br} has its table");
    }

    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
    for br in brs {
        assert!(!link_exists(&br), "{br} is gone");
        assert!(!nft_table_exists(&br), "table {br} is gone");
    }
}

fn lookup(w: &World, p: &Path, from: &str, name: &str) -> bool {
    w.berth_in(p, &["exec", from, "nslookup", name])
        .status
        .success()
}

fn dns_pid(w: &World) -> Option<i64> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.root().join("run/dns.json")).ok()?).ok()?;
    v["pid"].as_i64()
}

#[test]
fn names_resolve_after_down_and_up_at_once_and_after_the_responder_is_killed() {
    let w = World::new();
    let p = w.project(
        "dnsloop",
        r#"
services:
  a:
    image: IMAGE
    command: ["sleep", "3600"]
  b:
    image: IMAGE
    command: ["sleep", "3600"]
"#,
    );
    for cycle in 0..3 {
        w.ok(&p, &["up", "-d", "--wait"]);
        // At once, with a single try: `up` returned only once the responder
        // serves the new bridge.
        assert!(lookup(&w, &p, "a", "b"), "cycle {cycle}: a finds b");
        w.ok(&p, &["down", "-t", "0"]);
    }
    w.ok(&p, &["up", "-d", "--wait"]);
    assert!(lookup(&w, &p, "a", "b"));
    // Killed: the containers' supervisors bring it back, no command needed.
    let pid = dns_pid(&w).expect("the responder says what it serves");
    assert!(Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    w.wait_until(10, "names to resolve again", || lookup(&w, &p, "b", "a"));
    assert_ne!(dns_pid(&w), Some(pid));
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn a_killed_supervisor_takes_its_container_along_and_ps_says_so() {
    let w = World::new();
    let p = w.project(
        "supkill",
        r#"
services:
  api:
    image: IMAGE
    command: ["sleep", "3600"]
  cache:
    image: IMAGE
    command: ["sh", "-c", "touch /tmp/ready; exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
  always:
    image: IMAGE
    restart: always
    command: ["sleep", "3600"]
"#,
    );
    w.ok(&p, &["up", "-d", "--wait"]);
    // With `restart: always`, the container comes back under a new supervisor
    // (the dead one's guard takes over and applies the policy).
    let st = status_file(&w, "supkill-always-1");
    let (sup, pid) = (
        st["supervisor_pid"].as_i64().unwrap(),
        st["pid"].as_i64().unwrap(),
    );
    assert!(Command::new("kill")
        .args(["-9", &sup.to_string()])
        .status()
        .unwrap()
        .success());
    w.wait_until(10, "the container to come back", || {
        let st = status_file(&w, "supkill-always-1");
        st["state"] == "running" && st["pid"].as_i64().is_some_and(|p| p != pid && alive(p))
    });
    assert!(!alive(pid), "the old process died with its supervisor");
    let st = status_file(&w, "supkill-always-1");
    assert_eq!(st["exit_code"], 137, "{st}");
    assert_eq!(st["restart_count"], 1, "{st}");
    w.ok(&p, &["exec", "always", "true"]);
    for name in ["supkill-api-1", "supkill-cache-1"] {
        let st = status_file(&w, name);
        let sup = st["supervisor_pid"].as_i64().unwrap();
        let pid = st["pid"].as_i64().unwrap();
        assert!(Command::new("kill")
            .args(["-9", &sup.to_string()])
            .status()
            .unwrap()
            .success());
        // The container dies with it (no process berth cannot see or reap).
        w.wait_until(10, "the container to die with its supervisor", || {
            !alive(pid)
        });
    }
    let ps = w.ps(&p);
    for c in ps.iter().filter(|c| c["Service"] != "always") {
        assert_eq!(c["State"], "exited", "{c}");
        let status = c["Status"].as_str().unwrap();
        assert!(
            status.starts_with("Exited (137)") && !status.contains("years"),
            "{status}"
        );
        assert_ne!(c["Health"], "healthy", "{c}");
    }
    let out = w.berth_in(&p, &["exec", "api", "true"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not running"));
    // The next `up` gives the project back.
    w.ok(&p, &["up", "-d", "--wait"]);
    assert!(states(&w, &p).values().all(|s| s == "running"));
    w.ok(&p, &["exec", "api", "true"]);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// Links of the two installed binaries into `dir`, as a package installs them.
fn install_berth(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let berth = PathBuf::from(env!("CARGO_BIN_EXE_berth"));
    for name in ["berth", "berth-supervisor"] {
        let (from, to) = (berth.with_file_name(name), dir.join(name));
        std::fs::hard_link(&from, &to)
            .or_else(|_| std::fs::copy(&from, &to).map(drop))
            .unwrap();
    }
    dir.join("berth")
}

#[test]
fn supervisors_are_the_small_binary_and_outlive_an_upgrade_that_replaces_it() {
    let w = World::new();
    let p = w.project(
        "supupgrade",
        r#"
services:
  always:
    image: IMAGE
    restart: always
    command: ["sleep", "3600"]
"#,
    );
    let bin = w.root().with_file_name("bin");
    let berth = install_berth(&bin);
    let run = |args: &[&str]| {
        let out = Command::new(&berth)
            .arg("--root")
            .arg(w.root())
            .args(args)
            .current_dir(&p)
            .env("COMPOSE_PROGRESS", "plain")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "berth {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["up", "-d", "--wait"]);
    let st = status_file(&w, "supupgrade-always-1");
    let (sup, pid) = (
        st["supervisor_pid"].as_i64().unwrap(),
        st["pid"].as_i64().unwrap(),
    );
    // The supervisor is the binary beside berth, not berth.
    let exe = std::fs::read_link(format!("/proc/{sup}/exe")).unwrap();
    assert_eq!(exe, bin.join("berth-supervisor"));
    // An upgrade replaces both files; then the supervisor is killed. Its guard
    // still takes over (with the binary that runs, not the file now at its path)
    // and applies the policy.
    for name in ["berth", "berth-supervisor"] {
        let new = bin.join(format!("{name}.new"));
        std::fs::write(&new, "#!/bin/sh\nexit 3\n").unwrap();
        std::fs::rename(&new, bin.join(name)).unwrap();
    }
    assert!(Command::new("kill")
        .args(["-9", &sup.to_string()])
        .status()
        .unwrap()
        .success());
    w.wait_until(10, "the container to come back", || {
        let st = status_file(&w, "supupgrade-always-1");
        st["state"] == "running" && st["pid"].as_i64().is_some_and(|p| p != pid && alive(p))
    });
    assert_eq!(status_file(&w, "supupgrade-always-1")["restart_count"], 1);
    w.ok(&p, &["exec", "always", "true"]);
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// A small tmpfs over the containers' directory; taken down (project first) on drop.
struct SmallDisk {
    at: PathBuf,
    root: PathBuf,
    project: PathBuf,
}

impl SmallDisk {
    fn mount(at: &Path, root: &Path, project: &Path) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        assert!(Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs"])
            .arg(at)
            .status()
            .unwrap()
            .success());
        SmallDisk {
            at: at.to_path_buf(),
            root: root.to_path_buf(),
            project: project.to_path_buf(),
        }
    }

    fn free(&self) -> u64 {
        let c = std::ffi::CString::new(self.at.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: a zeroed statvfs for the call to fill; `c` is NUL-terminated.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
        st.f_bavail * st.f_frsize
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("--root")
            .arg(&self.root)
            .args(["down", "-v", "-t", "0"])
            .current_dir(&self.project)
            .output();
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

/// Processes in a container's cgroups (any hierarchy) whose container is not
/// running under a live supervisor, as `(container dir, pids)`.
fn unsupervised(w: &World) -> Vec<(String, Vec<String>)> {
    let mut out = vec![];
    let Ok(dirs) = std::fs::read_dir(w.root().join("containers")) else {
        return out;
    };
    for e in dirs.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        let mut pids = vec![];
        for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let procs = h.path().join("berth").join(&id).join("cgroup.procs");
            if let Ok(text) = std::fs::read_to_string(procs) {
                pids.extend(text.lines().map(String::from));
            }
        }
        pids.sort();
        pids.dedup();
        pids.retain(|p| p.parse().is_ok_and(alive));
        if pids.is_empty() {
            continue;
        }
        let st: serde_json::Value = std::fs::read(status_path(w, &e.path()))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let supervised =
            st["state"] == "running" && st["supervisor_pid"].as_i64().is_some_and(alive);
        if !supervised {
            out.push((id, pids));
        }
    }
    out
}

#[test]
fn a_full_disk_during_up_leaves_no_impossible_state_and_up_converges_after() {
    let w = World::new();
    let mut yaml = String::from("services:\n");
    for i in 0..4 {
        yaml.push_str(&format!(
            "  s{i}:\n    image: IMAGE\n    command: [\"sh\", \"-c\", \"echo start; exec sleep 3600\"]\n"
        ));
    }
    let p = w.project("full", &yaml);
    let disk = SmallDisk::mount(&w.root().join("containers"), &w.root(), &p);
    let filler = disk.at.join(".filler");
    for leave_kib in [0u64, 16, 48, 96, 160, 256, 384] {
        let _ = std::fs::remove_file(&filler);
        let fill = disk.free().saturating_sub(leave_kib * 1024);
        std::fs::write(&filler, vec![1u8; fill as usize]).unwrap();
        let out = w.berth_in(&p, &["up", "-d"]);
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            assert!(
                text.contains("No space left on device"),
                "{leave_kib} KiB: {text}"
            );
        }
        // Whatever happened: no container process without its supervisor (a
        // supervisor that failed takes its container along), and `ps` shows
        // only states a container can be in.
        w.wait_until(10, "no container process without a supervisor", || {
            unsupervised(&w).is_empty()
        });
        for c in w.ps(&p) {
            let status = c["Status"].as_str().unwrap_or_default();
            assert!(
                !status.contains("(255)") && !status.contains("years"),
                "{leave_kib} KiB: {c}"
            );
        }
        // Space freed: the next `up` converges.
        std::fs::remove_file(&filler).unwrap();
        w.ok(&p, &["up", "-d", "--wait"]);
        assert_eq!(states(&w, &p).len(), 4);
        assert!(states(&w, &p).values().all(|s| s == "running"));
        w.ok(&p, &["down", "-t", "0"]);
    }
    drop(disk);
    w.assert_clean();
}

#[test]
fn a_killed_up_leaves_nothing_down_cannot_remove() {
    let w = World::new();
    let port = free_port();
    let p = web_project(&w, "upkill", port);
    for point in [
        "net:after-bridge",
        "create:after-wire",
        "create:after-record",
        "start:after-spawn",
    ] {
        killed_at(&w, &p, &["up", "-d"], point);
        let brs = bridges(&w);
        w.ok(&p, &["down", "-v", "-t", "0"]);
        w.assert_clean();
        for br in brs {
            assert!(!link_exists(&br), "{point}: bridge {br} is gone");
            assert!(!nft_table_exists(&br), "{point}: table {br} is gone");
        }
        let left: Vec<_> = std::fs::read_dir(w.root().join("containers"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{point}: {left:?}");
        let nets: Vec<_> = std::fs::read_dir(w.root().join("networks"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(nets.is_empty(), "{point}: {nets:?}");
    }
    // And after all that, `up` still gives the whole project.
    w.ok(&p, &["up", "-d", "--wait"]);
    assert!(serves(port));
    w.ok(&p, &["down", "-v", "-t", "0"]);
    w.assert_clean();
}

/// Puts a stopped container of the current layout back as an older berth left
/// it: its service and volumes in their own files, its status and supervisor
/// lock beside its records, nothing in the run dir.
fn to_old_layout(w: &World, dir: &Path) {
    let mut rec: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.join("container.json")).unwrap()).unwrap();
    let service = rec
        .remove("service_config")
        .expect("the record holds the service");
    let volumes = rec
        .remove("named_volumes")
        .expect("the record holds the volumes");
    let write = |name: &str, v: &serde_json::Value| {
        std::fs::write(dir.join(name), serde_json::to_vec_pretty(v).unwrap()).unwrap()
    };
    write("container.json", &serde_json::Value::Object(rec));
    write("service.json", &service);
    write("volumes.json", &volumes);
    let run = status_path(w, dir).parent().unwrap().to_path_buf();
    std::fs::rename(run.join("status.json"), dir.join("status.json")).unwrap();
    std::fs::write(dir.join("supervisor.lock"), b"").unwrap();
    std::fs::remove_dir_all(run).unwrap();
}

#[test]
fn a_state_root_of_the_older_layout_keeps_working_and_moves_on_first_up() {
    let w = World::new();
    let p = w.project(
        "oldlayout",
        &format!(
            r#"
services:
  web:
    image: IMAGE
    command: {LOOP}
    volumes: [data:/data]
  job:
    image: IMAGE
    command: {LOOP}
volumes:
  data: {{}}
"#
        ),
    );
    w.ok(&p, &["up", "-d", "--wait"]);
    w.ok(&p, &["stop", "-t", "0"]);
    let ids: std::collections::BTreeMap<String, serde_json::Value> = by_name(&w, &p)
        .into_iter()
        .map(|(n, c)| (n, c["ID"].clone()))
        .collect();
    let dirs: Vec<PathBuf> = ["oldlayout-web-1", "oldlayout-job-1"]
        .iter()
        .map(|n| container_dir(&w, n).unwrap())
        .collect();
    for d in &dirs {
        to_old_layout(&w, d);
    }

    // Read where an older berth left things.
    let st = states(&w, &p);
    assert_eq!(st["oldlayout-web-1"], "exited", "{st:?}");
    assert_eq!(st["oldlayout-job-1"], "exited", "{st:?}");

    // The next `up` starts the same containers (nothing changed, nothing is
    // recreated) and moves them to the current layout on the way.
    w.ok(&p, &["up", "-d", "--wait"]);
    let after = by_name(&w, &p);
    assert_eq!(after["oldlayout-web-1"]["State"], "running");
    for (name, id) in &ids {
        assert_eq!(&after[name]["ID"], id, "{name} was not recreated");
    }
    for d in &dirs {
        for old in [
            "status.json",
            "supervisor.lock",
            "service.json",
            "volumes.json",
        ] {
            assert!(!d.join(old).exists(), "{} still has {old}", d.display());
        }
        assert!(
            status_path(&w, d).exists(),
            "{} has its status",
            d.display()
        );
    }
    // (An unread volume list would have recreated `web`: its volume missing.)
    w.ok(&p, &["down", "-v", "-t", "0"]);
    w.assert_clean();
}

/// Sets `path`'s modification time `secs` into the past.
fn age(path: &Path, secs: i64) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: clock_gettime and utimensat read and write structs we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    let then = libc::timespec {
        tv_sec: now.tv_sec - secs,
        tv_nsec: 0,
    };
    let times = [then, then];
    // SAFETY: as above; `c` outlives the call.
    assert_eq!(
        unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) },
        0
    );
}

/// What a power loss may leave of a project `up` made, where berth syncs only
/// its records' contents (their renames, the files of a container on a berth
/// network, the run dir: none): processes and namespaces gone (a run dir that
/// is no tmpfs keeps the pins' files), one container's other files empty, and
/// another's record and claim never written. The next `up` makes the project
/// whole, and `down` leaves nothing.
#[test]
fn after_a_power_loss_the_next_up_makes_the_project_whole() {
    let w = World::new();
    let p = w.project(
        "powerloss",
        r#"
services:
  a:
    image: IMAGE
    command: ["sleep", "3600"]
  b:
    image: IMAGE
    command: ["sleep", "3600"]
"#,
    );
    w.ok(&p, &["up", "-d", "--wait"]);
    let (a, b) = (
        container_dir(&w, "powerloss-a-1").unwrap(),
        container_dir(&w, "powerloss-b-1").unwrap(),
    );
    for name in ["powerloss-a-1", "powerloss-b-1"] {
        let st = status_file(&w, name);
        let (sup, pid) = (
            st["supervisor_pid"].as_i64().unwrap(),
            st["pid"].as_i64().unwrap(),
        );
        // SAFETY: kill(2) with a pid and a signal.
        unsafe { libc::kill(sup as i32, libc::SIGKILL) };
        w.wait_until(10, "the container to die with its supervisor", || {
            !alive(pid)
        });
    }
    for dir in [&a, &b] {
        let pin = w.root().join("run/netns").join(dir.file_name().unwrap());
        let c = std::ffi::CString::new(pin.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: umount2 of a path we own.
        assert_eq!(unsafe { libc::umount2(c.as_ptr(), 0) }, 0, "{pin:?}");
        assert!(pin.exists(), "the pin's file stays");
    }
    for f in [
        "net.json",
        "launch.json",
        "hosts",
        "hostname",
        "resolv.conf",
    ] {
        std::fs::write(a.join(f), b"").unwrap();
    }
    std::fs::remove_file(b.join("container.json")).unwrap();
    let c = std::ffi::CString::new(b.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: removexattr of a path and a NUL-terminated name we own.
    unsafe { libc::removexattr(c.as_ptr(), c"user.berth.project".as_ptr()) };
    let _ = std::fs::remove_file(b.join("project"));
    age(&b, 120);

    w.ok(&p, &["up", "-d", "--wait"]);
    assert!(states(&w, &p).values().all(|s| s == "running"));
    assert_eq!(states(&w, &p).len(), 2);
    w.ok(&p, &["exec", "a", "cat", "/etc/hosts"]);
    assert!(!a.exists() && !b.exists(), "both were made anew");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
