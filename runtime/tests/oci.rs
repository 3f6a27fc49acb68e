//! What the OCI runtime spec asks and runc does, as root, on real containers: hooks at
//! their lifecycle points, the default device list, root propagation, no mount
//! namespace, user namespaces, ambient capabilities and the cgroup limits that used to
//! be dropped. Each test has its own id and temp dir; a guard deletes the container
//! and the dirs even when the test panics, and the runner checks nothing is left.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_runtime::{Container, ContainerConfig, Rootfs, Stdio};
use oci_spec::runtime::Spec;
use serde_json::{json, Value};

const PREFIX: &str = "berthoci";

fn tmp_root() -> PathBuf {
    PathBuf::from(format!("/tmp/{PREFIX}-{}", std::process::id()))
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A busybox image in a temp dir, a state dir, and the container.
struct World {
    id: String,
    dir: PathBuf,
    container: Option<Container>,
}

impl World {
    fn new(name: &str) -> World {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let id = format!("{PREFIX}-{}-{n}-{name}", std::process::id());
        let dir = tmp_root().join(&id);
        let img = dir.join("image");
        std::fs::create_dir_all(img.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", img.join("bin/busybox")).unwrap();
        for a in [
            "sh", "true", "cat", "ls", "id", "echo", "head", "grep", "readlink", "sleep", "stat",
        ] {
            std::os::unix::fs::symlink("busybox", img.join("bin").join(a)).unwrap();
        }
        for d in ["proc", "sys", "dev", "tmp", "etc"] {
            std::fs::create_dir_all(img.join(d)).unwrap();
        }
        // Readable by a user namespace's root whatever the runner's umask (077).
        for d in ["", "bin", "bin/busybox", "proc", "sys", "dev", "etc"] {
            std::fs::set_permissions(img.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(img.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        World {
            id,
            dir,
            container: None,
        }
    }

    fn image(&self) -> PathBuf {
        self.dir.join("image")
    }

    fn spec(&self, args: &[&str]) -> Spec {
        berth_runtime::spec::default_spec(args)
    }

    fn config(&self, spec: Spec) -> ContainerConfig {
        let out = std::fs::File::create(self.dir.join("stdout")).unwrap();
        let err = std::fs::File::create(self.dir.join("stderr")).unwrap();
        ContainerConfig {
            id: self.id.clone(),
            state_dir: self.dir.join("state"),
            spec,
            rootfs: Rootfs::Dir(self.image()),
            stdio: Stdio::Fds {
                stdin: std::fs::File::open("/dev/null").unwrap().into(),
                stdout: out.into(),
                stderr: err.into(),
            },
            init: false,
            die_with_parent: false,
            user: None,
            bundle: Some(self.dir.clone()),
        }
    }

    fn create(&mut self, spec: Spec) -> berth_runtime::Result<()> {
        self.container = Some(Container::create(self.config(spec))?);
        Ok(())
    }

    fn c(&self) -> &Container {
        self.container.as_ref().unwrap()
    }

    /// create + start + wait: (exit code, stdout).
    fn run(&mut self, spec: Spec) -> (Option<i32>, String) {
        self.create(spec)
            .unwrap_or_else(|e| panic!("create {}: {e}", self.id));
        self.c().start().unwrap();
        let st = self.c().wait().unwrap();
        (st.code, self.read("stdout"))
    }

    fn read(&self, f: &str) -> String {
        std::fs::read_to_string(self.dir.join(f)).unwrap_or_default()
    }

    fn delete(&mut self) {
        if let Some(c) = self.container.take() {
            c.delete().unwrap();
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(c) = self.container.take() {
            if let Err(e) = c.delete() {
                eprintln!("cleanup of {}: {e}", self.id);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn edit(spec: &mut Spec, f: impl FnOnce(&mut Value)) {
    let mut v = serde_json::to_value(&*spec).unwrap();
    f(&mut v);
    *spec = serde_json::from_value(v).unwrap();
}

/// A hook appending its name, the status it was given and `extra`'s output to `log`.
fn log_hook(name: &str, log: &Path, extra: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!(
            "s=$(cat); s=${{s#*\\\"status\\\":\\\"}}; echo \"{name} ${{s%%\\\"*}}{extra}\" >> {}",
            log.display()
        )]
    })
}

// ---------------------------------------------------------------------------- tests

fn hooks_run_in_order_with_state_and_namespaces() {
    let mut w = World::new("hooks");
    let log = w.dir.join("hooks.log");
    let mut spec = w.spec(&["/bin/sh", "-c", "echo process >> /tmp/inside.log"]);
    edit(&mut spec, |v| {
        v["hooks"] = json!({
            "prestart": [log_hook("prestart", &log, "")],
            "createRuntime": [log_hook("createRuntime", &log, " $(readlink /proc/self/ns/mnt)")],
            "createContainer": [log_hook("createContainer", &log, " $(readlink /proc/self/ns/mnt)")],
            // Runs inside the container's root: its log is the container's /tmp.
            "startContainer": [log_hook("startContainer", Path::new("/tmp/inside.log"), "")],
            "poststart": [log_hook("poststart", &log, "")],
            "poststop": [log_hook("poststop", &log, "")]
        });
    });
    w.create(spec).unwrap();
    let mnt = std::fs::read_link(format!("/proc/{}/ns/mnt", w.c().pid())).unwrap();
    let ours = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    w.c().start().unwrap();
    w.c().wait().unwrap();
    w.delete();
    let got = std::fs::read_to_string(&log).unwrap();
    let (mnt, ours) = (mnt.display().to_string(), ours.display().to_string());
    assert_eq!(
        got,
        format!(
            "prestart creating\ncreateRuntime creating {ours}\ncreateContainer creating {mnt}\n\
             poststart running\npoststop stopped\n"
        )
    );
    let inside = std::fs::read_to_string(w.image().join("tmp/inside.log")).unwrap();
    assert_eq!(inside, "startContainer created\nprocess\n");
}

fn failing_hooks_fail_create_and_start_and_clean_up() {
    // prestart fails: create fails naming it, the container is gone, poststop ran.
    let mut w = World::new("prefail");
    let log = w.dir.join("hooks.log");
    let mut spec = w.spec(&["/bin/true"]);
    edit(&mut spec, |v| {
        v["hooks"] = json!({
            "prestart": [{"path": "/bin/false"}],
            "poststop": [log_hook("poststop", &log, "")]
        });
    });
    let e = w.create(spec).unwrap_err().to_string();
    assert!(e.contains("prestart hook 0 (/bin/false): failed"), "{e}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "poststop stopped\n");
    assert!(!w.dir.join("state").exists(), "state dir removed");

    // A hook past its timeout is killed and fails create.
    let mut w = World::new("hooktimeout");
    let mut spec = w.spec(&["/bin/true"]);
    edit(&mut spec, |v| {
        v["hooks"] = json!({"createRuntime": [
            {"path": "/bin/sleep", "args": ["sleep", "60"], "timeout": 1}
        ]});
    });
    let t = Instant::now();
    let e = w.create(spec).unwrap_err().to_string();
    assert!(e.contains("createRuntime hook 0"), "{e}");
    assert!(e.contains("timed out after 1s"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(20));

    // createContainer fails inside the init.
    let mut w = World::new("ccfail");
    let mut spec = w.spec(&["/bin/true"]);
    edit(&mut spec, |v| {
        v["hooks"] =
            json!({"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]});
    });
    let e = w.create(spec).unwrap_err().to_string();
    assert!(
        e.contains("createContainer hook 0 (/bin/sh): failed"),
        "{e}"
    );

    // startContainer fails: start fails with its error; the process never ran.
    let mut w = World::new("startfail");
    let mut spec = w.spec(&["/bin/sh", "-c", "echo ran > /tmp/ran"]);
    edit(&mut spec, |v| {
        v["hooks"] =
            json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}]});
    });
    w.create(spec).unwrap();
    let e = w.c().start().unwrap_err().to_string();
    assert!(e.contains("startContainer hook 0 (/bin/sh): failed"), "{e}");
    w.c().wait().unwrap();
    assert!(!w.image().join("tmp/ran").exists());
}

fn default_devices_with_a_deny_all_spec() {
    // `runc spec`'s device list is a bare "deny all": the runtime still allows the
    // standard devices (and mknod), every time (this used to fail ~half the creates:
    // mknod raced the init's move into the devices cgroup).
    for i in 0..15 {
        let mut w = World::new("devdeny");
        let mut spec = w.spec(&[
            "/bin/sh",
            "-c",
            "echo x > /dev/null && echo null-ok; head -c 4 /dev/urandom > /dev/null && echo urandom-ok; \
             head -c 1 /dev/zero 2>&1 > /dev/full; \
             stat -c '%a %n' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty",
        ]);
        edit(&mut spec, |v| {
            v["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}]);
        });
        let (code, out) = w.run(spec);
        assert_eq!(code, Some(0), "iteration {i}: {}", w.read("stderr"));
        assert!(
            out.starts_with("null-ok\nurandom-ok\n"),
            "iteration {i}: {out} {}",
            w.read("stderr")
        );
        // /dev/full opens for writing (the write then fails with ENOSPC, not EPERM).
        assert!(
            out.contains("No space left on device"),
            "iteration {i}: {out}"
        );
        // 0666 whatever the runtime's umask (the runner sets 077).
        for dev in ["null", "zero", "full", "random", "urandom", "tty"] {
            assert!(out.contains(&format!("666 /dev/{dev}\n")), "{out}");
        }
    }
}

/// The propagation tag of the mount at `/` in a mountinfo text.
fn root_tags(mountinfo: &str) -> String {
    mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .map(|l| {
            l.split(" - ")
                .next()
                .unwrap_or_default()
                .split(' ')
                .skip(6)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn root_propagation() {
    let host_before = root_tags(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    for (prop, tag) in [
        ("shared", "shared:"),
        ("rshared", "shared:"),
        ("unbindable", "unbindable"),
        ("private", ""),
    ] {
        let mut w = World::new("prop");
        let mut spec = w.spec(&["/bin/cat", "/proc/self/mountinfo"]);
        edit(&mut spec, |v| v["linux"]["rootfsPropagation"] = prop.into());
        let (code, out) = w.run(spec);
        assert_eq!(code, Some(0), "{prop}: {}", w.read("stderr"));
        let tags = root_tags(&out);
        if tag.is_empty() {
            assert!(
                !tags.contains("shared") && !tags.contains("master"),
                "{prop}: {tags:?}"
            );
        } else {
            assert!(tags.contains(tag), "{prop}: {tags:?}");
        }
    }
    let host_after = root_tags(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
    assert_eq!(host_before, host_after, "the host's / is untouched");
}

fn no_mount_namespace() {
    let mut w = World::new("nomntns");
    let mut spec = w.spec(&[
        "/bin/sh",
        "-c",
        "ls /bin/busybox && cat /proc/self/mountinfo | grep -c .",
    ]);
    edit(&mut spec, |v| {
        let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "mount");
    });
    w.create(spec).unwrap();
    let mnt = std::fs::read_link(format!("/proc/{}/ns/mnt", w.c().pid())).unwrap();
    assert_eq!(mnt, std::fs::read_link("/proc/self/ns/mnt").unwrap());
    // The rootfs is mounted in our namespace, at the state dir's mount point.
    let rootfs = w.dir.join("state/rootfs");
    let ours = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        ours.contains(&format!(" {} ", rootfs.display())),
        "rootfs mounted here"
    );
    w.c().start().unwrap();
    assert_eq!(w.c().wait().unwrap().code, Some(0), "{}", w.read("stderr"));
    assert!(w.read("stdout").starts_with("/bin/busybox\n"));
    w.delete();
    let after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!after.contains(&w.id), "every mount detached at delete");
}

fn user_namespace_with_id_maps() {
    let mut w = World::new("userns");
    let mut spec = w.spec(&["/bin/sleep", "100"]);
    edit(&mut spec, |v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
        // The image belongs to the host's root: writes go to a tmpfs the namespace owns.
        v["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}));
    });
    w.create(spec).unwrap();
    w.c().start().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", w.c().pid())).unwrap();
    assert!(
        status.contains("Uid:\t200000\t200000\t200000\t200000"),
        "{status}"
    );
    assert!(status.contains("Gid:\t300000\t"), "{status}");
    // exec joins the user namespace too.
    let out_path = w.dir.join("exec.out");
    let out = std::fs::File::create(&out_path).unwrap();
    let script = "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; \
        echo x > /dev/null && echo null-ok; echo w > /tmp/f && stat -c '%u' /tmp/f";
    let ep = w
        .c()
        .exec(berth_runtime::ExecConfig {
            process: w
                .spec(&["/bin/sh", "-c", script])
                .process()
                .clone()
                .unwrap(),
            user: None,
            stdio: Stdio::Fds {
                stdin: std::fs::File::open("/dev/null").unwrap().into(),
                stdout: out.try_clone().unwrap().into(),
                stderr: out.into(),
            },
        })
        .unwrap();
    assert_eq!(ep.wait().unwrap().code, Some(0));
    let out = std::fs::read_to_string(&out_path).unwrap();
    let lines: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        ["0 200000 65536", "0 300000 65536", "0", "0", "null-ok", "0"],
        "{out}"
    );
}

fn ambient_without_inheritable_like_runc_spec() {
    let mut w = World::new("ambient");
    let mut spec = w.spec(&["/bin/sh", "-c", "grep CapAmb /proc/self/status"]);
    edit(&mut spec, |v| {
        let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        v["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
        });
    });
    let (code, out) = w.run(spec);
    assert_eq!(code, Some(0), "{}", w.read("stderr"));
    assert!(out.contains("0000000000000000"), "{out}");
    let err = w.read("stderr");
    assert!(
        err.contains("warning: ambient capabilities CAP_KILL,CAP_NET_BIND_SERVICE,CAP_AUDIT_WRITE not raised"),
        "the dropped set is said: {err}"
    );
}

/// major:minor of the first whole disk in /proc/partitions.
fn a_disk() -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/proc/partitions").ok()?;
    text.lines().skip(2).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() == 4 && !f[3].starts_with("loop") && !f[3].starts_with("ram"))
            .then(|| Some((f[0].parse().ok()?, f[1].parse().ok()?)))
            .flatten()
    })
}

fn cgroup_limits_applied_or_refused() {
    let h = berth_runtime::cgroups::hierarchies();
    let has = |c: &str| h.iter().any(|x| x.controllers.iter().any(|y| y == c));
    if let Some((maj, min)) = a_disk().filter(|_| has("blkio") || has("io")) {
        let mut w = World::new("throttle");
        let mut spec = w.spec(&["/bin/true"]);
        edit(&mut spec, |v| {
            v["linux"]["resources"]["blockIO"] = json!({
                "throttleReadBpsDevice": [{"major": maj, "minor": min, "rate": 102400}],
                "throttleWriteIOPSDevice": [{"major": maj, "minor": min, "rate": 300}]
            });
        });
        w.create(spec).unwrap();
        let cg = w.c().cgroups();
        if let Some(d) = cg.dir_for("blkio").filter(|d| d.version == 1) {
            let r = std::fs::read_to_string(d.path.join("blkio.throttle.read_bps_device")).unwrap();
            assert_eq!(r.trim(), format!("{maj}:{min} 102400"));
            let r =
                std::fs::read_to_string(d.path.join("blkio.throttle.write_iops_device")).unwrap();
            assert_eq!(r.trim(), format!("{maj}:{min} 300"));
        } else if let Some(d) = cg.dir_for("io") {
            let r = std::fs::read_to_string(d.path.join("io.max")).unwrap();
            assert!(r.contains("rbps=102400") && r.contains("wiops=300"), "{r}");
        }
    }
    if has("hugetlb") && Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        let mut w = World::new("hugetlb");
        let mut spec = w.spec(&["/bin/true"]);
        edit(&mut spec, |v| {
            v["linux"]["resources"]["hugepageLimits"] =
                json!([{"pageSize": "2MB", "limit": 4194304}]);
        });
        w.create(spec).unwrap();
        let d = w.c().cgroups().dir_for("hugetlb").unwrap();
        let file = if d.version == 1 {
            "hugetlb.2MB.limit_in_bytes"
        } else {
            "hugetlb.2MB.max"
        };
        assert_eq!(
            std::fs::read_to_string(d.path.join(file)).unwrap().trim(),
            "4194304"
        );
    }
    // A controller the host lacks: a clear error, not a silent drop.
    if !has("net_cls") {
        let mut w = World::new("netcls");
        let mut spec = w.spec(&["/bin/true"]);
        edit(&mut spec, |v| {
            v["linux"]["resources"]["network"] = json!({"classID": 1048577})
        });
        let e = w.create(spec).unwrap_err().to_string();
        assert!(e.contains("linux.resources.network.classID"), "{e}");
        assert!(!w.dir.join("state").exists());
    }
}

fn an_init_failing_during_setup_says_why() {
    // The init fails while building its root with the caller's `Attached` unread (here:
    // a user namespace's root cannot enter an image only the host's root may read). The
    // kernel then reports ECONNRESET before the init's last message, which used to be
    // taken for EOF ("init exited during setup"), losing the reason.
    let handles: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                let mut w = World::new("initerr");
                std::fs::set_permissions(w.image(), std::fs::Permissions::from_mode(0o700))
                    .unwrap();
                let mut spec = w.spec(&["/bin/true"]);
                edit(&mut spec, |v| {
                    v["linux"]["namespaces"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"type": "user"}));
                    v["linux"]["uidMappings"] =
                        json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
                    v["linux"]["gidMappings"] =
                        json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
                });
                w.create(spec).unwrap_err().to_string()
            })
        })
        .collect();
    for h in handles {
        let e = h.join().unwrap();
        assert!(e.contains("Permission denied"), "{e}");
    }
}

// ---------------------------------------------------------------------------- runner

fn leaks() -> Vec<String> {
    let mut found = Vec::new();
    let me = format!("{PREFIX}-{}-", std::process::id());
    for h in berth_runtime::cgroups::hierarchies() {
        if let Ok(d) = std::fs::read_dir(h.mount.join("berth")) {
            for e in d.flatten() {
                if e.file_name().to_string_lossy().starts_with(&me) {
                    found.push(format!("cgroup {}", e.path().display()));
                }
            }
        }
    }
    for l in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
    {
        if l.contains(&me) {
            found.push(format!("mount {l}"));
        }
    }
    found
}

fn main() {
    berth_runtime::maybe_run_init();
    let tests: Vec<(&str, fn())> = vec![
        (
            "hooks_run_in_order_with_state_and_namespaces",
            hooks_run_in_order_with_state_and_namespaces,
        ),
        (
            "failing_hooks_fail_create_and_start_and_clean_up",
            failing_hooks_fail_create_and_start_and_clean_up,
        ),
        (
            "default_devices_with_a_deny_all_spec",
            default_devices_with_a_deny_all_spec,
        ),
        ("root_propagation", root_propagation),
        ("no_mount_namespace", no_mount_namespace),
        ("user_namespace_with_id_maps", user_namespace_with_id_maps),
        (
            "ambient_without_inheritable_like_runc_spec",
            ambient_without_inheritable_like_runc_spec,
        ),
        (
            "an_init_failing_during_setup_says_why",
            an_init_failing_during_setup_says_why,
        ),
        (
            "cgroup_limits_applied_or_refused",
            cgroup_limits_applied_or_refused,
        ),
    ];
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if unsafe { libc::geteuid() } != 0 {
        println!("oci: skipped, needs root");
        return;
    }
    // Device modes must not depend on the caller's umask.
    unsafe { libc::umask(0o077) };
    let start = Instant::now();
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(180));
        eprintln!("oci: timed out");
        for h in berth_runtime::cgroups::hierarchies() {
            let me = format!("{PREFIX}-{}-", std::process::id());
            for e in std::fs::read_dir(h.mount.join("berth"))
                .into_iter()
                .flatten()
                .flatten()
            {
                if e.file_name().to_string_lossy().starts_with(&me) {
                    let procs =
                        std::fs::read_to_string(e.path().join("cgroup.procs")).unwrap_or_default();
                    for pid in procs.lines().filter_map(|l| l.parse::<i32>().ok()) {
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            }
        }
        std::process::exit(2);
    });
    let handles: Vec<_> = tests
        .into_iter()
        .filter(|(n, _)| args.is_empty() || args.iter().any(|a| n.contains(a.as_str())))
        .map(|(name, f)| {
            (
                name,
                std::thread::spawn(move || std::panic::catch_unwind(f)),
            )
        })
        .collect();
    let mut failed = 0;
    for (name, h) in handles {
        match h.join().unwrap() {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    let leaked = leaks();
    let _ = std::fs::remove_dir_all(tmp_root());
    for l in &leaked {
        println!("LEAK: {l}");
    }
    println!(
        "{failed} failed, {} leaks, in {:.1?}",
        leaked.len(),
        start.elapsed()
    );
    if failed > 0 || !leaked.is_empty() {
        std::process::exit(1);
    }
}
