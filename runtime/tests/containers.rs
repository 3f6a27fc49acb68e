//! Real containers, as root: isolation, lifecycle, limits, init, exec, pause, and that
//! nothing is left behind. Each test has its own id and temp dir; a guard deletes the
//! container and the dirs even when the test panics.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use berth_runtime::{Container, ContainerConfig, ExecConfig, Rootfs, Status, Stdio};
use oci_spec::runtime::Spec;
use serde_json::Value;

const PREFIX: &str = "berthtest";

fn tmp_root() -> PathBuf {
    PathBuf::from(format!("/tmp/{PREFIX}-{}", std::process::id()))
}

/// The static checker, built once with rustc (std only, static).
fn checker() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("berth-checker");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/checker/checker.rs");
        let fresh = |o: &Path| {
            let (Ok(a), Ok(b)) = (o.metadata(), src.metadata()) else {
                return false;
            };
            a.modified().ok() >= b.modified().ok()
        };
        if !fresh(&out) {
            let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
            let st = Command::new(rustc)
                .args([
                    "--edition",
                    "2021",
                    "-C",
                    "opt-level=1",
                    "-C",
                    "target-feature=+crt-static",
                    "-o",
                ])
                .arg(&out)
                .arg(&src)
                .status()
                .expect("run rustc");
            assert!(st.success(), "building the checker failed");
        }
        out
    })
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A test's world: temp dir with a busybox image, state dir, and the container.
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
            "sh", "true", "false", "ls", "cat", "ps", "hostname", "id", "mount", "sleep", "echo",
            "touch", "mkdir", "kill", "test", "stty", "tty", "pwd", "mknod", "head",
        ] {
            std::os::unix::fs::symlink("busybox", img.join("bin").join(a)).unwrap();
        }
        std::fs::copy(checker(), img.join("checker")).unwrap();
        for d in ["proc", "sys", "dev", "tmp", "etc"] {
            std::fs::create_dir_all(img.join(d)).unwrap();
        }
        std::fs::write(
            img.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            img.join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\nstaff:x:50:nobody\n",
        )
        .unwrap();
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
        let mut s = berth_runtime::spec::default_spec(args);
        s.set_hostname(Some("berth-test".into()));
        s
    }

    /// Create with stdout captured to a file; returns the path of that file.
    fn create(
        &mut self,
        spec: Spec,
        rootfs: Option<Rootfs>,
        init: bool,
        user: Option<&str>,
    ) -> PathBuf {
        let out = self.dir.join("stdout");
        let f = std::fs::File::create(&out).unwrap();
        let e = std::fs::File::create(self.dir.join("stderr")).unwrap();
        let null = std::fs::File::open("/dev/null").unwrap();
        let c = Container::create(ContainerConfig {
            id: self.id.clone(),
            state_dir: self.dir.join("state"),
            spec,
            rootfs: rootfs.unwrap_or_else(|| Rootfs::Dir(self.image())),
            stdio: Stdio::Fds {
                stdin: null.into(),
                stdout: f.into(),
                stderr: e.into(),
            },
            init,
            user: user.map(str::to_owned),
            bundle: None,
            die_with_parent: false,
        })
        .unwrap_or_else(|e| panic!("create {}: {e}", self.id));
        self.container = Some(c);
        out
    }

    fn c(&self) -> &Container {
        self.container.as_ref().unwrap()
    }

    /// create + start + wait; returns (status, stdout).
    fn run(
        &mut self,
        spec: Spec,
        rootfs: Option<Rootfs>,
        init: bool,
    ) -> (berth_runtime::ExitStatus, String) {
        let out = self.create(spec, rootfs, init, None);
        self.c().start().unwrap();
        let st = self.c().wait().unwrap();
        (st, std::fs::read_to_string(out).unwrap())
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
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

fn json(s: &str) -> Value {
    let line = s
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON in output {s:?}"));
    serde_json::from_str(line).unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap_or_default().to_string())
        .collect()
}

// ---------------------------------------------------------------------------- tests

fn isolation() {
    let mut w = World::new("iso");
    let (st, out) = w.run(w.spec(&["/checker"]), None, false);
    assert_eq!(st.code, Some(0), "stderr: {}", w.stderr());
    let r = json(&out);
    assert_eq!(r["pid"], 1, "pid 1 inside");
    assert_eq!(r["hostname"], "berth-test");
    assert_eq!(
        r["pids"].as_array().unwrap().len(),
        1,
        "host processes invisible: {}",
        r["pids"]
    );
    let mounts = strs(&r["mounts"]);
    assert!(
        !mounts
            .iter()
            .any(|m| m.starts_with("/work") || m.starts_with("/tmp/")),
        "host mounts leak: {mounts:?}"
    );
    for m in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
    ] {
        assert!(mounts.iter().any(|x| x == m), "{m} missing in {mounts:?}");
    }
    // docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
    // NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
    assert_eq!(r["cap_eff"], "00000000a80425fb");
    assert_eq!(r["cap_bnd"], "00000000a80425fb");
    assert_eq!(r["keys"], "0", "/proc/keys masked");
    let cg = r["cgroup"].as_str().unwrap();
    assert!(
        cg.lines().all(|l| l.ends_with(":/")),
        "the container's cgroups are its cgroup namespace root: {cg}"
    );
    assert_eq!(r["firmware"], "0", "/sys/firmware masked");
    assert_eq!(
        r["fds"].as_array().unwrap().len(),
        4,
        "only stdio (+ the dir being read) open: {}",
        r["fds"]
    );
}

fn overlay_rootfs() {
    let mut w = World::new("ovl");
    let (upper, work) = (w.dir.join("upper"), w.dir.join("work"));
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let rootfs = Rootfs::Overlay {
        lowers: vec![w.image()],
        upper: upper.clone(),
        work,
    };
    let (st, out) = w.run(
        w.spec(&[
            "/bin/sh",
            "-c",
            "echo new > /created && cat /created && ls /checker",
        ]),
        Some(rootfs),
        false,
    );
    assert_eq!(st.code, Some(0), "stderr: {}", w.stderr());
    assert!(out.contains("new"));
    assert!(upper.join("created").exists(), "write lands in upper");
    assert!(!w.image().join("created").exists(), "lower untouched");

    // More layers than mount(2)'s one-page option string holds: the new mount API.
    let mut w = World::new("layers");
    let mut lowers = Vec::new();
    for i in 0..60 {
        let l = w.dir.join(format!("layers/{i:03}-{}", "x".repeat(60)));
        std::fs::create_dir_all(&l).unwrap();
        std::fs::write(l.join(format!("f{i}")), "").unwrap();
        lowers.push(l);
    }
    lowers.push(w.image());
    let (upper, work) = (w.dir.join("upper"), w.dir.join("work"));
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let rootfs = Rootfs::Overlay {
        lowers,
        upper,
        work,
    };
    let (st, out) = w.run(
        w.spec(&["/bin/sh", "-c", "ls /f0 /f59"]),
        Some(rootfs),
        false,
    );
    assert_eq!(st.code, Some(0), "stderr: {} out {out}", w.stderr());
}

fn exit_codes_and_fast_exit() {
    for i in 0..10 {
        let mut w = World::new("fast");
        let (st, _) = w.run(w.spec(&["/bin/true"]), None, false);
        assert_eq!(st.code, Some(0), "iteration {i}");
    }
    // Container::run: create and start in one go, also for an init.
    for i in 0..10 {
        let mut w = World::new("runfast");
        let c = Container::run(ContainerConfig {
            id: w.id.clone(),
            state_dir: w.dir.join("state"),
            spec: w.spec(&["/bin/sh", "-c", "exit 7"]),
            rootfs: Rootfs::Dir(w.image()),
            stdio: Stdio::Null,
            init: i % 2 == 1,
            user: None,
            bundle: None,
            die_with_parent: false,
        })
        .unwrap();
        w.container = Some(c);
        assert_eq!(w.c().wait().unwrap().code, Some(7), "iteration {i}");
    }
    let mut w = World::new("code");
    let (st, _) = w.run(w.spec(&["/bin/sh", "-c", "exit 3"]), None, false);
    assert_eq!((st.code, st.signal, st.oom_killed), (Some(3), None, false));
}

fn signals() {
    // The runtime lives in a Rust binary, which ignores SIGPIPE; the container's process
    // must start with every signal at its default and none blocked, with and without
    // an init, or `yes | head` never ends.
    for init in [false, true] {
        let mut w = World::new("sigdfl");
        let (st, out) = w.run(
            w.spec(&[
                "/bin/busybox",
                "grep",
                "-E",
                "^Sig(Ign|Blk)",
                "/proc/self/status",
            ]),
            None,
            init,
        );
        assert_eq!(st.code, Some(0), "init={init}: {}", w.stderr());
        assert_eq!(
            out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
            "init={init}"
        );
        let mut w = World::new("sigpipe");
        let (st, _) = w.run(w.spec(&["/bin/sh", "-c", "yes | head -n 1"]), None, init);
        assert_eq!(st.code, Some(0), "init={init}: {}", w.stderr());
    }

    let mut w = World::new("sig");
    w.create(
        w.spec(&[
            "/bin/sh",
            "-c",
            "trap 'echo got; exit 42' TERM; while true; do sleep 0.05; done",
        ]),
        None,
        false,
        None,
    );
    w.c().start().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(w.c().status(), Status::Running);
    w.c().kill(libc::SIGTERM, false).unwrap();
    let st = w.c().wait().unwrap();
    assert_eq!(st.code, Some(42));
    assert_eq!(w.c().status(), Status::Stopped);

    let mut w = World::new("sigkill");
    w.create(w.spec(&["/bin/sleep", "100"]), None, false, None);
    w.c().start().unwrap();
    w.c().kill(libc::SIGKILL, true).unwrap();
    let st = w.c().wait().unwrap();
    assert_eq!(st.signal, Some(libc::SIGKILL));
}

fn with_resources(spec: &mut Spec, res: Value) {
    let mut linux = serde_json::to_value(spec.linux().clone().unwrap()).unwrap();
    for (k, v) in res.as_object().unwrap() {
        linux["resources"][k] = v.clone();
    }
    spec.set_linux(Some(serde_json::from_value(linux).unwrap()));
}

fn memory_limit_oom() {
    let mut w = World::new("oom");
    let mut spec = w.spec(&["/checker", "alloc", "256"]);
    with_resources(
        &mut spec,
        serde_json::json!({"memory": {"limit": 32 << 20, "swap": 32 << 20}}),
    );
    let (st, out) = w.run(spec, None, false);
    assert!(st.oom_killed, "status {st:?}, out {out}");
    assert_eq!(st.signal, Some(libc::SIGKILL));
}

fn limits_visible_and_pids_enforced() {
    let mut w = World::new("pids");
    let mut spec = w.spec(&["/checker", "forks", "10"]);
    with_resources(
        &mut spec,
        serde_json::json!({"pids": {"limit": 4}, "memory": {"limit": 64 << 20}}),
    );
    let (st, out) = w.run(spec, None, false);
    assert_eq!(st.code, Some(0), "stderr: {}", w.stderr());
    let forked = json(&out)["forked"].as_u64().unwrap();
    assert!(
        forked <= 3,
        "pids limit 4 allows at most 3 children, got {forked}"
    );

    let mut w = World::new("lim");
    let mut spec = w.spec(&["/checker"]);
    with_resources(
        &mut spec,
        serde_json::json!({"pids": {"limit": 7}, "memory": {"limit": 64 << 20}}),
    );
    let (_, out) = w.run(spec, None, false);
    let r = json(&out);
    assert_eq!(r["memory_limit"], (64u64 << 20).to_string());
    assert_eq!(r["pids_max"], "7");
}

fn init_reaps_zombies() {
    let script = "sh -c 'sleep 0.2 & exec true'; sleep 0.6; /checker zombies; /checker";
    let mut w = World::new("init");
    let (st, out) = w.run(w.spec(&["/bin/sh", "-c", script]), None, true);
    assert_eq!(st.code, Some(0), "stderr: {}", w.stderr());
    assert!(out.contains("{\"zombies\":0}"), "{out}");
    assert_ne!(json(&out)["pid"], 1, "the runtime's init is pid 1");
    // Signals are forwarded by the init; a signal death is reported as 128+n.
    let mut w = World::new("initsig");
    w.create(w.spec(&["/bin/sleep", "100"]), None, true, None);
    w.c().start().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    w.c().kill(libc::SIGTERM, false).unwrap();
    assert_eq!(w.c().wait().unwrap().code, Some(128 + libc::SIGTERM));
}

fn exec_joins() {
    let mut w = World::new("exec");
    w.create(w.spec(&["/bin/sleep", "100"]), None, false, None);
    w.c().start().unwrap();
    let out = w.dir.join("exec-out");
    let f = std::fs::File::create(&out).unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let mut p = w.spec(&["/checker"]).process().clone().unwrap();
    p.set_args(Some(vec!["/checker".into()]));
    let ep = w
        .c()
        .exec(ExecConfig {
            process: p,
            user: Some("nobody".into()),
            stdio: Stdio::Fds {
                stdin: null.try_clone().unwrap().into(),
                stdout: f.into(),
                stderr: null.into(),
            },
        })
        .unwrap();
    let st = ep.wait().unwrap();
    assert_eq!(st.code, Some(0));
    let r = json(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(r["hostname"], "berth-test");
    assert!(
        r["pids"].as_array().unwrap().contains(&Value::from(1)),
        "sees the container's pid 1"
    );
    assert_ne!(r["pid"], 1);
    assert!(r["uid"].as_str().unwrap().starts_with("65534"));
    assert!(
        r["groups"].as_str().unwrap().contains("50"),
        "supplementary group from /etc/group: {}",
        r["groups"]
    );
    // A long-running exec: compare namespaces while it lives.
    let mut p = w.spec(&["/bin/sleep", "5"]).process().clone().unwrap();
    p.set_args(Some(vec!["/bin/sleep".into(), "5".into()]));
    let ep = w
        .c()
        .exec(ExecConfig {
            process: p,
            user: None,
            stdio: Stdio::Null,
        })
        .unwrap();
    for ns in ["pid", "mnt", "uts", "ipc", "net", "cgroup"] {
        let a = std::fs::read_link(format!("/proc/{}/ns/{ns}", w.c().pid())).unwrap();
        let b = std::fs::read_link(format!("/proc/{}/ns/{ns}", ep.pid)).unwrap();
        assert_eq!(a, b, "{ns} namespace joined");
    }
    let cg = |pid: i32| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(cg(w.c().pid()), cg(ep.pid), "same cgroups");
    ep.kill(libc::SIGKILL).unwrap();
    assert_eq!(ep.wait().unwrap().signal, Some(libc::SIGKILL));
}

fn pause_resume() {
    let mut w = World::new("pause");
    w.create(w.spec(&["/bin/sleep", "100"]), None, false, None);
    assert_eq!(w.c().status(), Status::Created);
    w.c().start().unwrap();
    assert_eq!(w.c().status(), Status::Running);
    w.c().pause().unwrap();
    assert_eq!(w.c().status(), Status::Paused);
    let st = std::fs::read_to_string(format!("/proc/{}/status", w.c().pid())).unwrap();
    assert!(st.contains("State:\tD") || st.contains("State:\tS"), "{st}");
    w.c().resume().unwrap();
    assert_eq!(w.c().status(), Status::Running);
    let s = w.c().stats().unwrap();
    assert!(s.pids_current >= 1 && s.memory_usage > 0, "{s:?}");
    // A paused container can be killed and deleted (the freezer is thawed for SIGKILL).
    let mut p = World::new("pausedel");
    p.create(p.spec(&["/bin/sleep", "100"]), None, false, None);
    p.c().start().unwrap();
    p.c().pause().unwrap();
    p.c().kill(libc::SIGKILL, true).unwrap();
    assert_eq!(p.c().wait().unwrap().signal, Some(libc::SIGKILL));
    // Reload from disk, as a later process would.
    let again = Container::load(w.c().state_dir()).unwrap();
    assert_eq!(again.status(), Status::Running);
    assert_eq!(again.pid(), w.c().pid());
}

fn symlink_cannot_escape() {
    let mut w = World::new("escape");
    let victim = w.dir.join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    // Absolute and `..` symlinks pointing at a host directory.
    std::os::unix::fs::symlink(&victim, w.image().join("abs")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../../..".to_string() + victim.to_str().unwrap(),
        w.image().join("rel"),
    )
    .unwrap();
    let mut spec = w.spec(&[
        "/bin/sh",
        "-c",
        "mount | grep -c ' /abs/data \\| /rel/data ' ; ls -d /abs/data /rel/data",
    ]);
    let mut mounts = spec.mounts().clone().unwrap();
    for d in ["/abs/data", "/rel/data"] {
        mounts.push(serde_json::from_value(serde_json::json!({"destination": d, "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]})).unwrap());
    }
    spec.set_mounts(Some(mounts));
    let (st, out) = w.run(spec, None, false);
    assert_eq!(st.code, Some(0), "stderr: {} out {out}", w.stderr());
    assert!(
        !victim.join("data").exists(),
        "a mount target was created outside the rootfs"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(victim.to_str().unwrap()),
        "mount landed on the host"
    );
}

fn readonly_root_and_caps() {
    let mut w = World::new("ro");
    let mut spec = w.spec(&["/bin/sh", "-c", "touch /x 2>/dev/null && echo root-writable; touch /dev/shm/ok && echo shm-ok; mount -t tmpfs none /tmp 2>/dev/null && echo mounted; hostname other 2>/dev/null && echo renamed; mknod /dev/km c 1 11 && echo made-node; echo berth-test 2>/dev/null > /dev/km && echo kmsg-writable; true"]);
    let mut root = spec.root().clone().unwrap();
    root.set_readonly(Some(true));
    spec.set_root(Some(root));
    let (st, out) = w.run(spec, None, false);
    assert_eq!(st.code, Some(0));
    assert!(!out.contains("root-writable"), "{out}");
    assert!(out.contains("shm-ok"), "{out}");
    assert!(!out.contains("mounted"), "CAP_SYS_ADMIN is dropped: {out}");
    assert!(!out.contains("renamed"), "{out}");
    assert!(
        out.contains("made-node"),
        "CAP_MKNOD is in docker's set: {out}"
    );
    // /dev/kmsg (1:11) is not in docker's device list: writing it must fail.
    assert!(
        !out.contains("kmsg-writable"),
        "the device cgroup refuses other devices: {out}"
    );
}

fn seccomp_and_user() {
    let mut w = World::new("seccomp");
    let mut spec = w.spec(&[
        "/bin/sh",
        "-c",
        "mkdir /tmp/d 2>/dev/null && echo made; /checker",
    ]);
    let mut linux = serde_json::to_value(spec.linux().clone().unwrap()).unwrap();
    linux["seccomp"] = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    });
    spec.set_linux(Some(serde_json::from_value(linux).unwrap()));
    let mut p = spec.process().clone().unwrap();
    p.set_no_new_privileges(Some(true));
    spec.set_process(Some(p));
    let out = w.create(spec, None, false, Some("nobody"));
    w.c().start().unwrap();
    assert_eq!(w.c().wait().unwrap().code, Some(0));
    let out = std::fs::read_to_string(out).unwrap();
    assert!(!out.contains("made"), "{out}");
    let r = json(&out);
    assert_eq!(r["seccomp"], "2");
    assert_eq!(r["no_new_privs"], "1");
    assert!(r["uid"].as_str().unwrap().starts_with("65534"));
    assert!(r["env"]
        .as_array()
        .unwrap()
        .contains(&Value::from("HOME=/nonexistent")));
}

fn start_reports_exec_failure() {
    let mut w = World::new("noexec");
    let err = Container::create(ContainerConfig {
        id: w.id.clone(),
        state_dir: w.dir.join("state"),
        spec: w.spec(&["/no/such/binary"]),
        rootfs: Rootfs::Dir(w.image()),
        stdio: Stdio::Null,
        init: false,
        user: None,
        bundle: None,
        die_with_parent: false,
    })
    .unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");
    w.container = None;
}

fn read_all(fd: std::os::fd::OwnedFd) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        use std::io::Read;
        let mut f = std::fs::File::from(fd);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // A pty master reads EIO once the last slave is closed.
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    })
}

fn terminal() {
    for init in [false, true] {
        let mut w = World::new(if init { "ttyinit" } else { "tty" });
        let mut spec = w.spec(&["/bin/sh", "-c", "test -t 0 && echo tty-yes; stty size; tty"]);
        let mut p = spec.process().clone().unwrap();
        p.set_terminal(Some(true));
        p.set_console_size(Some(
            serde_json::from_value(serde_json::json!({"height": 40, "width": 100})).unwrap(),
        ));
        spec.set_process(Some(p));
        w.create(spec, None, init, None);
        let master = w.c().take_pty().expect("a pty master");
        let reader = read_all(master);
        w.c().start().unwrap();
        assert_eq!(w.c().wait().unwrap().code, Some(0));
        let out = reader.join().unwrap();
        assert!(out.contains("tty-yes"), "{out:?}");
        assert!(out.contains("40 100"), "{out:?}");
        assert!(out.contains("/dev/pts/0"), "{out:?}");
    }
    // exec with a terminal.
    let mut w = World::new("ttyexec");
    w.create(w.spec(&["/bin/sleep", "100"]), None, false, None);
    w.c().start().unwrap();
    let mut p = w.spec(&["x"]).process().clone().unwrap();
    p.set_args(Some(vec![
        "/bin/sh".into(),
        "-c".into(),
        "test -t 1 && echo exec-tty".into(),
    ]));
    p.set_terminal(Some(true));
    let mut ep = w
        .c()
        .exec(ExecConfig {
            process: p,
            user: None,
            stdio: Stdio::Null,
        })
        .unwrap();
    let reader = read_all(ep.pty.take().expect("exec pty"));
    assert_eq!(ep.wait().unwrap().code, Some(0));
    assert!(reader.join().unwrap().contains("exec-tty"));
}

fn spec_features() {
    // A first container whose network namespace the second joins by path.
    let mut a = World::new("netowner");
    a.create(a.spec(&["/bin/sleep", "100"]), None, false, None);
    a.c().start().unwrap();
    let net = format!("/proc/{}/ns/net", a.c().pid());

    let mut w = World::new("features");
    let host_dir = w.dir.join("shared");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("hello"), "from-host\n").unwrap();
    let script = "ulimit -n; cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_forward; \
        cat /data/hello; touch /data/x 2>/dev/null && echo data-writable; \
        cat /proc/sys/kernel/domainname; echo MYVAR=$MYVAR; pwd; \
        touch /scratch/f && echo scratch-ok; /checker";
    let mut spec = w.spec(&["/bin/sh", "-c", script]);
    let mut v = serde_json::to_value(&spec).unwrap();
    v["domainname"] = "example.test".into();
    v["process"]["rlimits"] =
        serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 1234, "hard": 1234}]);
    v["process"]["oomScoreAdj"] = 500.into();
    v["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push("MYVAR=42".into());
    v["process"]["cwd"] = "/tmp".into();
    v["process"]["user"]["umask"] = 0o027.into();
    v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
    for ns in v["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = net.clone().into();
        }
    }
    v["mounts"].as_array_mut().unwrap().push(serde_json::json!({
        "destination": "/data", "type": "bind", "source": host_dir, "options": ["rbind", "ro"]}));
    v["mounts"].as_array_mut().unwrap().push(serde_json::json!({
        "destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=1777"]}));
    spec = serde_json::from_value(v).unwrap();
    let (st, out) = w.run(spec, None, false);
    assert_eq!(st.code, Some(0), "stderr: {}\nout: {out}", w.stderr());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1234", "{out}");
    assert_eq!(lines[1], "500", "{out}");
    assert_eq!(lines[2], "1", "sysctl in the joined netns: {out}");
    assert_eq!(lines[3], "from-host");
    assert!(!out.contains("data-writable"), "{out}");
    assert!(out.contains("example.test"), "{out}");
    assert!(out.contains("MYVAR=42"), "{out}");
    assert!(out.contains("/tmp\n"), "{out}");
    assert!(out.contains("scratch-ok"), "{out}");
    assert_eq!(json(&out)["umask"], "0027");
    // The sysctl was written in the shared namespace: the first container sees it.
    let fwd = std::fs::read_to_string(format!(
        "/proc/{}/root/proc/sys/net/ipv4/ip_forward",
        a.c().pid()
    ))
    .unwrap_or_default();
    assert_eq!(fwd.trim(), "1");
    assert!(!host_dir.join("x").exists());
}

fn devices_on_cgroup2() {
    // The eBPF device program is what a cgroup2-only host uses. On a hybrid host (v1
    // devices present) the runtime does not attach it, so attach it here, and open the
    // v1 list wide so that only the eBPF program can refuse /dev/kmsg.
    let mut w = World::new("devbpf");
    let out = w.create(w.spec(&["/bin/sh", "-c", "mknod /dev/km c 1 11; echo x 2>/dev/null > /dev/km && echo kmsg-writable; echo ok > /dev/null && echo null-ok"]), None, false, None);
    let Some(v2) = w.c().cgroups().v2_dir().map(|p| p.to_path_buf()) else {
        println!("devices_on_cgroup2: no cgroup2 hierarchy, skipped");
        return;
    };
    assert!(v2.exists());
    if let Some(d) = w
        .c()
        .cgroups()
        .dirs
        .iter()
        .find(|d| d.version == 1 && d.controllers.iter().any(|c| c == "devices"))
    {
        std::fs::write(d.path.join("devices.allow"), "a").unwrap();
        let spec = w.spec(&["x"]);
        let rules = spec
            .linux()
            .as_ref()
            .unwrap()
            .resources()
            .as_ref()
            .unwrap()
            .devices()
            .clone()
            .unwrap();
        berth_runtime::cgroups::devices::attach(&v2, &rules).unwrap();
    }
    w.c().start().unwrap();
    assert_eq!(w.c().wait().unwrap().code, Some(0));
    let out = std::fs::read_to_string(out).unwrap();
    assert!(out.contains("null-ok"), "{out}");
    assert!(
        !out.contains("kmsg-writable"),
        "the eBPF device program refuses /dev/kmsg: {out}"
    );
}

// ---------------------------------------------------------------------------- runner

fn leaks() -> Vec<String> {
    let mut found = Vec::new();
    let me = format!("{PREFIX}-{}-", std::process::id());
    for h in berth_runtime::cgroups::hierarchies() {
        if let Ok(d) = std::fs::read_dir(h.mount.join("berth")) {
            for e in d.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with(&me) {
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
        ("isolation", isolation),
        ("overlay_rootfs", overlay_rootfs),
        ("exit_codes_and_fast_exit", exit_codes_and_fast_exit),
        ("signals", signals),
        ("memory_limit_oom", memory_limit_oom),
        (
            "limits_visible_and_pids_enforced",
            limits_visible_and_pids_enforced,
        ),
        ("init_reaps_zombies", init_reaps_zombies),
        ("exec_joins", exec_joins),
        ("pause_resume", pause_resume),
        ("symlink_cannot_escape", symlink_cannot_escape),
        ("readonly_root_and_caps", readonly_root_and_caps),
        ("seccomp_and_user", seccomp_and_user),
        ("start_reports_exec_failure", start_reports_exec_failure),
        ("terminal", terminal),
        ("spec_features", spec_features),
        ("devices_on_cgroup2", devices_on_cgroup2),
    ];
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if unsafe { libc::geteuid() } != 0 {
        println!("containers: skipped, needs root");
        return;
    }
    let _ = checker();
    let start = Instant::now();
    // A hung test would never reach its guards: after a deadline, thaw and kill every
    // container of this run, then fail.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(240));
        eprintln!("containers: timed out, killing this run's containers");
        let me = format!("{PREFIX}-{}-", std::process::id());
        for h in berth_runtime::cgroups::hierarchies() {
            for e in std::fs::read_dir(h.mount.join("berth"))
                .into_iter()
                .flatten()
                .flatten()
            {
                if !e.file_name().to_string_lossy().starts_with(&me) {
                    continue;
                }
                let _ = std::fs::write(e.path().join("freezer.state"), "THAWED");
                let procs =
                    std::fs::read_to_string(e.path().join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|l| l.parse::<i32>().ok()) {
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        for h in berth_runtime::cgroups::hierarchies() {
            for e in std::fs::read_dir(h.mount.join("berth"))
                .into_iter()
                .flatten()
                .flatten()
            {
                if e.file_name().to_string_lossy().starts_with(&me) {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
        }
        let _ = std::fs::remove_dir_all(tmp_root());
        std::process::exit(2);
    });
    let selected: Vec<_> = tests
        .into_iter()
        .filter(|(n, _)| args.is_empty() || args.iter().any(|a| n.contains(a.as_str())))
        .collect();
    let handles: Vec<_> = selected
        .into_iter()
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
