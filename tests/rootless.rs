//! Rootless berth, end to end: a throwaway user (created with subordinate ids and
//! removed afterwards, even when the test fails) runs the busybox stack without
//! root, through runuser.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A user that exists for one test, with its own copy of berth and the image.
struct User {
    name: String,
    home: PathBuf,
    uid: u32,
    /// Extra environment for every berth command.
    env: Vec<(&'static str, &'static str)>,
    /// A cgroup v2 directory every berth command starts in (a delegated session).
    cgroup: Option<PathBuf>,
}

impl User {
    fn new(tag: &str) -> User {
        let name = format!("brl{}{tag}", std::process::id() % 100_000);
        let st = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", "-K", "SUB_UID_COUNT=65536"])
            .args(["-K", "SUB_GID_COUNT=65536", &name])
            .status()
            .unwrap();
        assert!(st.success(), "useradd {name}");
        let home = PathBuf::from(format!("/home/{name}"));
        let uid = fs::metadata(&home).unwrap().uid();
        let u = User {
            name,
            home,
            uid,
            env: Vec::new(),
            cgroup: None,
        };
        // The user cannot reach cargo's target dir: copy berth and the image in.
        // A hard link where it can (the debug binary is large; the disk is shared).
        let exe = u.home.join("berth");
        if fs::hard_link(env!("CARGO_BIN_EXE_berth"), &exe).is_err() {
            fs::copy(env!("CARGO_BIN_EXE_berth"), &exe).unwrap();
            fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::copy(common::busybox_tar(), u.home.join("busybox.tar")).unwrap();
        u.chown(&u.home.join("busybox.tar"));
        let out = u.berth(&u.home, &["image", "import", "busybox.tar", common::IMAGE]);
        assert!(out.status.success(), "import: {}", text(&out));
        u
    }

    fn chown(&self, p: &Path) {
        std::os::unix::fs::chown(p, Some(self.uid), Some(self.uid)).unwrap();
    }

    /// `berth ARGS` as the user in `dir`, with a login-like environment (no
    /// XDG_RUNTIME_DIR: runuser has no logind session).
    fn berth(&self, dir: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new("/usr/sbin/runuser");
        cmd.args(["-u", &self.name, "--"])
            .arg(self.home.join("berth"))
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("HOME", &self.home)
            // A Debian user's PATH: no sbin directories (nft lives there).
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("USER", &self.name)
            .envs(self.env.iter().copied());
        if let Some(cg) = &self.cgroup {
            // As a login into a delegated cgroup: the command starts there
            // (moved by root, before runuser drops to the user).
            let procs = std::ffi::CString::new(
                cg.join("cgroup.procs")
                    .into_os_string()
                    .into_encoded_bytes(),
            )
            .unwrap();
            use std::os::unix::process::CommandExt;
            // SAFETY: only open/write/close between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::close(fd);
                    Ok(())
                })
            };
        }
        cmd.output().unwrap()
    }

    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.berth(dir, args);
        assert!(out.status.success(), "berth {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn project(&self, name: &str, yaml: &str) -> PathBuf {
        let d = self.home.join(name);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("compose.yaml"), yaml).unwrap();
        self.chown(&d);
        self.chown(&d.join("compose.yaml"));
        d
    }

    /// The user's live processes (zombies awaiting the host's init do not count).
    fn processes(&self) -> Vec<String> {
        let out = Command::new("ps")
            .args(["-u", &self.uid.to_string(), "-o", "stat=,args="])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim_start().starts_with('Z'))
            .map(String::from)
            .collect()
    }

    /// Nothing of the user's is running and nothing is mounted (a mount in the
    /// user's namespace would keep a process: the holder).
    fn assert_nothing_running(&self) {
        let t0 = Instant::now();
        loop {
            let p = self.processes();
            if p.is_empty() {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "left running: {p:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mounts = fs::read_to_string("/proc/mounts").unwrap();
        assert!(!mounts.contains(self.home.to_str().unwrap()), "{mounts}");
    }
}

impl Drop for User {
    fn drop(&mut self) {
        // Whatever a failed test left: the user's processes (its namespace and
        // mounts die with them), then the user, its home and its subids.
        let _ = Command::new("pkill")
            .args(["-KILL", "-U", &self.uid.to_string()])
            .status();
        let t0 = Instant::now();
        while !self.processes().is_empty() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("userdel").args(["-r", &self.name]).output();
        let _ = fs::remove_dir_all(&self.home);
    }
}

/// `/dev/net/tun` and `/dev/fuse` opened to every user (pasta, slirp4netns and
/// fuse-overlayfs need them; a host without udev leaves them 0600) for as long
/// as one guard lives; the last guard of this test binary restores their
/// modes, even when a test fails.
struct Tun;

const DEVICES: [&str; 2] = ["/dev/net/tun", "/dev/fuse"];

static TUN: std::sync::Mutex<(usize, [u32; 2])> = std::sync::Mutex::new((0, [0; 2]));

impl Tun {
    fn open() -> Tun {
        let mut g = TUN.lock().unwrap_or_else(|e| e.into_inner());
        if g.0 == 0 {
            for (i, d) in DEVICES.iter().enumerate() {
                g.1[i] = fs::metadata(d).unwrap().mode() & 0o7777;
                fs::set_permissions(d, fs::Permissions::from_mode(0o666)).unwrap();
            }
        }
        g.0 += 1;
        Tun
    }
}

impl Drop for Tun {
    fn drop(&mut self) {
        let mut g = TUN.lock().unwrap_or_else(|e| e.into_inner());
        g.0 -= 1;
        if g.0 == 0 {
            for (i, d) in DEVICES.iter().enumerate() {
                let _ = fs::set_permissions(d, fs::Permissions::from_mode(g.1[i]));
            }
        }
    }
}

/// A port free on the host's loopback now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The body of `GET path` from the host's 127.0.0.1:port (HTTP/1.0: the server
/// closes when done).
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\n\r\n")?;
    let mut r = String::new();
    s.read_to_string(&mut r)?;
    Ok(r.split_once("\r\n\r\n")
        .map_or(r.clone(), |(_, b)| b.to_string()))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_user_gets_private_paths_and_doctor_names_the_fixes() {
    let u = User::new("d");
    let out = u.berth(&u.home, &["doctor"]);
    let t = text(&out);
    assert!(t.contains("mode: rootless"), "{t}");
    let root = u.home.join(".local/share/berth");
    assert!(
        t.contains(&format!("state root: {}", root.display())),
        "{t}"
    );
    // No XDG_RUNTIME_DIR under runuser: the run dir stays in the private root.
    assert!(
        t.contains(&format!("run dir: {}/run", root.display())),
        "{t}"
    );
    assert!(t.contains("subordinate uids: /etc/subuid:"), "{t}");
    assert!(t.contains("XDG_RUNTIME_DIR"), "{t}");
    assert!(t.contains("ip_unprivileged_port_start"), "{t}");
    assert!(t.contains("cgroup delegation"), "{t}");
    let m = fs::metadata(&root).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o777), (u.uid, 0o700));
    // Root's paths are unchanged.
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["doctor"])
        .env("BERTH_ROOT", "/nonexistent-berth-doctor-test")
        .output()
        .unwrap();
    assert!(text(&out).contains("mode: root"), "{}", text(&out));
    u.assert_nothing_running();
}

#[test]
fn unshare_maps_subordinate_ids_and_removes_what_a_container_left() {
    let u = User::new("u");
    let out = u.ok(&u.home, &["unshare", "cat", "/proc/self/uid_map"]);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0", &u.uid.to_string(), "1"], "{out}");
    assert_eq!(lines[1][0], "1");
    assert_eq!(lines[1][2], "65536");
    // A file owned by a subordinate id: the user cannot remove it, unshare can.
    let d = u.home.join("left");
    fs::create_dir(&d).unwrap();
    u.chown(&d);
    u.ok(
        &u.home,
        &[
            "unshare",
            "sh",
            "-c",
            "touch left/f && chown 1000:1000 left/f",
        ],
    );
    let sub: u32 = lines[1][1].parse().unwrap();
    assert_eq!(fs::metadata(d.join("f")).unwrap().uid(), sub + 999);
    assert!(!u.berth(&u.home, &["unshare", "false"]).status.success());
    u.ok(&u.home, &["unshare", "rm", "-rf", "left"]);
    assert!(!d.exists());
    u.assert_nothing_running();
}

#[test]
fn the_busybox_stack_runs_rootless_and_down_leaves_nothing() {
    let _tun = Tun::open();
    let u = User::new("s");
    let (port, port2) = (free_port(), free_port());
    let bind = u.home.join("site");
    fs::create_dir(&bind).unwrap();
    fs::write(bind.join("index.html"), "from the user's home\n").unwrap();
    u.chown(&bind);
    u.chown(&bind.join("index.html"));
    let p = u.project(
        "stack",
        &format!(
            r#"
services:
  web:
    image: {img}
    command: ["httpd", "-f", "-p", "8080", "-h", "/site"]
    ports: ["127.0.0.1:{port}:8080"]
    volumes:
      - ./../site:/site
  client:
    image: {img}
    command: ["sh", "-c", "echo kept > /data/f; exec sleep 1000"]
    volumes:
      - data:/data
volumes:
  data:
"#,
            img = common::IMAGE
        ),
    );
    let t0 = Instant::now();
    u.ok(&p, &["up", "-d"]);
    eprintln!("rootless up -d: {:?}", t0.elapsed());
    // The published port, from the host's loopback, as soon as `up -d` is back.
    assert_eq!(
        http_get(port, "/index.html").unwrap(),
        "from the user's home\n"
    );
    let ps = u.ok(&p, &["ps"]);
    assert!(ps.contains(&format!("127.0.0.1:{port}->8080/tcp")), "{ps}");
    // DNS between services, over berth's bridge in the user's network namespace.
    let got = u.ok(
        &p,
        &[
            "exec",
            "client",
            "wget",
            "-qO-",
            "http://web:8080/index.html",
        ],
    );
    assert_eq!(got, "from the user's home\n");
    // Root inside is the user outside: what the container writes in a bind mount
    // stays the user's own.
    u.ok(&p, &["exec", "web", "touch", "/site/made-inside"]);
    assert_eq!(fs::metadata(bind.join("made-inside")).unwrap().uid(), u.uid);
    let owner = u.ok(&p, &["exec", "web", "stat", "-c", "%u", "/site/index.html"]);
    assert_eq!(owner, "0\n", "without keep-id the user is root inside");
    // The named volume.
    let t = Instant::now();
    loop {
        let out = u.berth(&p, &["exec", "client", "cat", "/data/f"]);
        if String::from_utf8_lossy(&out.stdout) == "kept\n" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{}", text(&out));
        std::thread::sleep(Duration::from_millis(50));
    }
    let id = u.ok(&p, &["exec", "client", "id", "-u"]);
    assert_eq!(id.trim(), "0");
    // A later `up` that publishes one more port: both reach the container.
    let yaml = fs::read_to_string(p.join("compose.yaml")).unwrap().replace(
        &format!("[\"127.0.0.1:{port}:8080\"]"),
        &format!("[\"127.0.0.1:{port}:8080\", \"127.0.0.1:{port2}:8080\"]"),
    );
    fs::write(p.join("compose.yaml"), yaml).unwrap();
    u.ok(&p, &["up", "-d"]);
    for p in [port, port2] {
        assert_eq!(
            http_get(p, "/index.html").unwrap(),
            "from the user's home\n"
        );
    }
    u.ok(&p, &["down", "-v"]);
    // Nothing listens on the host any more (pasta is gone with the holder).
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    u.assert_nothing_running();
    let root = u.home.join(".local/share/berth");
    let left: Vec<_> = fs::read_dir(root.join("volumes"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "volumes left: {left:?}");
    assert!(fs::read_dir(root.join("containers")).map_or(true, |mut d| d.next().is_none()));
}

#[test]
fn limits_are_skipped_with_one_warning_and_low_ports_are_refused_clearly() {
    let _tun = Tun::open();
    let u = User::new("l");
    let p = u.project(
        "limits",
        &format!(
            "services:\n  a:\n    image: {img}\n    command: [\"sleep\", \"1000\"]\n    mem_limit: 64m\n    pids_limit: 50\n  b:\n    image: {img}\n    command: [\"sleep\", \"1000\"]\n    cpus: 0.5\n",
            img = common::IMAGE
        ),
    );
    let out = u.berth(&p, &["up", "-d"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(t.matches("WARN").count(), 1, "{t}");
    for key in [
        "services.a.mem_limit",
        "services.a.pids_limit",
        "services.b.cpus",
    ] {
        assert!(t.contains(key), "{key}: {t}");
    }
    u.ok(&p, &["down"]);
    let p = u.project(
        "ports",
        &format!(
            "services:\n  web:\n    image: {img}\n    command: [\"sleep\", \"1000\"]\n    ports: [\"127.0.0.1:80:80\"]\n",
            img = common::IMAGE
        ),
    );
    let out = u.berth(&p, &["up", "-d"]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("services.web.ports[0] (80:80)"), "{t}");
    assert!(t.contains("net.ipv4.ip_unprivileged_port_start"), "{t}");
    u.ok(&p, &["down"]);
    u.assert_nothing_running();
}

#[test]
fn keep_id_runs_as_the_user_and_bind_mounts_stay_the_users() {
    let _tun = Tun::open();
    let u = User::new("k");
    let bind = u.home.join("work");
    fs::create_dir(&bind).unwrap();
    fs::write(bind.join("mine"), "x").unwrap();
    u.chown(&bind);
    u.chown(&bind.join("mine"));
    let p = u.project(
        "keep",
        &format!(
            "services:\n  dev:\n    image: {img}\n    userns_mode: keep-id\n    command: [\"sleep\", \"1000\"]\n    volumes: [\"../work:/work\"]\n",
            img = common::IMAGE
        ),
    );
    u.ok(&p, &["up", "-d"]);
    // The user's own ids inside, and the user's files show as theirs.
    let ids = u.ok(
        &p,
        &[
            "exec",
            "dev",
            "sh",
            "-c",
            "id -u; id -g; stat -c %u /work/mine; stat -c %u:%g /bin/busybox /",
        ],
    );
    // Image files keep their owners: root stays root (fuse-overlayfs maps them).
    let want = format!("{0}\n{0}\n{0}\n0:0\n0:0\n", u.uid);
    assert_eq!(ids, want);
    u.ok(
        &p,
        &[
            "exec",
            "dev",
            "sh",
            "-c",
            "echo new > /work/made && mkdir /work/d",
        ],
    );
    for f in ["made", "d"] {
        let m = fs::metadata(bind.join(f)).unwrap();
        assert_eq!((m.uid(), m.gid()), (u.uid, u.uid), "{f}");
    }
    u.ok(&p, &["down"]);
    u.assert_nothing_running();
    // As root, keep-id is refused with the key named.
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args([
            "--root",
            u.home.join("rootful").to_str().unwrap(),
            "up",
            "-d",
        ])
        .current_dir(&p)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("services.dev.userns_mode: keep-id"),
        "{}",
        text(&out)
    );
}

/// The host's own (non-loopback) address, the source of its route to its
/// resolver (a UDP connect sends nothing), when it has one.
fn host_address() -> Option<std::net::IpAddr> {
    let resolv = fs::read_to_string("/etc/resolv.conf").ok()?;
    let ns = resolv
        .lines()
        .find_map(|l| l.strip_prefix("nameserver "))
        .and_then(|a| a.trim().parse::<std::net::Ipv4Addr>().ok())
        .filter(|a| !a.is_loopback())
        .unwrap_or(std::net::Ipv4Addr::new(192, 0, 2, 1));
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect((ns, 53)).ok()?;
    Some(s.local_addr().ok()?.ip()).filter(|a| !a.is_loopback())
}

/// A one-reply HTTP server on `addr` (port 0: any), answering `body` to every
/// connection until the test ends.
fn serve(addr: std::net::IpAddr, body: &'static str) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind((addr, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn slirp4netns_carries_ports_and_the_way_out_when_pasta_is_not_chosen() {
    let _tun = Tun::open();
    let mut u = User::new("n");
    // What berth does when pasta is not installed (both are here).
    u.env.push(("BERTH_ROOTLESS_NETWORK_CMD", "slirp4netns"));
    let doctor = text(&u.berth(&u.home, &["doctor"]));
    assert!(doctor.contains("slirp4netns ("), "{doctor}");
    let (port, port2) = (free_port(), free_port());
    let p = u.project(
        "slirp",
        &format!(
            "services:\n  web:\n    image: {img}\n    command: [\"sh\", \"-c\", \"mkdir -p /site && echo via slirp4netns > /site/index.html && exec httpd -f -p 8080 -h /site\"]\n    ports: [\"127.0.0.1:{port}:8080\"]\n  client:\n    image: {img}\n    command: [\"sleep\", \"1000\"]\n",
            img = common::IMAGE
        ),
    );
    u.ok(&p, &["up", "-d"]);
    let procs = u.processes().join("\n");
    assert!(procs.contains("slirp4netns"), "{procs}");
    assert!(!procs.contains("pasta"), "{procs}");
    // The published port from the host's loopback, once httpd has its file.
    let t = Instant::now();
    loop {
        match http_get(port, "/index.html") {
            Ok(b) if b == "via slirp4netns\n" => break,
            r => assert!(t.elapsed() < Duration::from_secs(10), "{r:?}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // DNS between services, as with pasta.
    let got = u.ok(
        &p,
        &[
            "exec",
            "client",
            "wget",
            "-qO-",
            "http://web:8080/index.html",
        ],
    );
    assert_eq!(got, "via slirp4netns\n");
    // The way out: a server on the host's own address, through slirp's NAT.
    if let Some(addr) = host_address() {
        let hport = serve(addr, "from the host\n");
        let url = format!("http://{addr}:{hport}/");
        let got = u.ok(&p, &["exec", "client", "wget", "-qO-", &url]);
        assert_eq!(got, "from the host\n");
    }
    // One more port on a later `up`: added to the running slirp4netns.
    let yaml = fs::read_to_string(p.join("compose.yaml")).unwrap().replace(
        &format!("[\"127.0.0.1:{port}:8080\"]"),
        &format!("[\"127.0.0.1:{port}:8080\", \"127.0.0.1:{port2}:8080\"]"),
    );
    fs::write(p.join("compose.yaml"), yaml).unwrap();
    u.ok(&p, &["up", "-d"]);
    for p in [port, port2] {
        let t = Instant::now();
        loop {
            match http_get(p, "/index.html") {
                Ok(b) if b == "via slirp4netns\n" => break,
                r => assert!(t.elapsed() < Duration::from_secs(10), "{p}: {r:?}"),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    u.ok(&p, &["down", "-v"]);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port2)).is_err());
    u.assert_nothing_running();
}

#[test]
fn fuse_overlayfs_carries_the_root_when_the_kernel_overlay_is_not_used() {
    let _tun = Tun::open();
    let mut u = User::new("f");
    u.env.push(("BERTH_ROOTLESS_OVERLAY", "fuse-overlayfs"));
    let p = u.project(
        "fuse",
        &format!(
            "services:\n  app:\n    image: {img}\n    command: [\"sleep\", \"1000\"]\n",
            img = common::IMAGE
        ),
    );
    u.ok(&p, &["up", "-d"]);
    let procs = u.processes().join("\n");
    assert!(procs.contains("fuse-overlayfs"), "{procs}");
    let mounts = u.ok(&p, &["unshare", "cat", "/proc/self/mountinfo"]);
    assert!(
        mounts
            .lines()
            .any(|l| l.contains("/merged ") && l.contains("fuse-overlayfs")),
        "{mounts}"
    );
    // Writes, a whiteout and a rename in the container's root land in its upper dir.
    u.ok(
        &p,
        &[
            "exec",
            "app",
            "sh",
            "-c",
            "echo kept > /new && rm /bin/true && mkdir /d && mv /new /d/f",
        ],
    );
    let upper: Vec<PathBuf> = fs::read_dir(u.home.join(".local/share/berth/containers"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("upper"))
        .collect();
    assert_eq!(upper.len(), 1, "{upper:?}");
    assert_eq!(fs::read_to_string(upper[0].join("d/f")).unwrap(), "kept\n");
    let gone = u.berth(&p, &["exec", "app", "ls", "/bin/true"]);
    assert!(!gone.status.success(), "{}", text(&gone));
    // Stop unmounts it (its process exits); start mounts the same upper again.
    u.ok(&p, &["stop", "-t", "1"]);
    let t = Instant::now();
    while u.processes().iter().any(|l| l.contains("fuse-overlayfs")) {
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", u.processes());
        std::thread::sleep(Duration::from_millis(50));
    }
    u.ok(&p, &["start"]);
    assert_eq!(u.ok(&p, &["exec", "app", "cat", "/d/f"]), "kept\n");
    u.ok(&p, &["down"]);
    u.assert_nothing_running();
}

#[test]
fn cp_into_and_out_of_a_stopped_container_on_fuse_overlayfs() {
    let _tun = Tun::open();
    let mut u = User::new("k");
    u.env.push(("BERTH_ROOTLESS_OVERLAY", "fuse-overlayfs"));
    let p = u.project(
        "fusecp",
        &format!(
            "services:\n  app:\n    image: {img}\n    command: [\"sleep\", \"1000\"]\n",
            img = common::IMAGE
        ),
    );
    u.ok(&p, &["up", "-d"]);
    // An opaque directory (the image's /data replaced) and a whiteout, as
    // fuse-overlayfs records them in the upper dir.
    u.ok(
        &p,
        &[
            "exec",
            "app",
            "sh",
            "-c",
            "rm -rf /data && mkdir /data && echo mine > /data/only && rm /bin/true",
        ],
    );
    u.ok(&p, &["stop", "-t", "1"]);
    let fuse_gone = |u: &User| {
        let t = Instant::now();
        while u.processes().iter().any(|l| l.contains("fuse-overlayfs")) {
            assert!(t.elapsed() < Duration::from_secs(10), "{:?}", u.processes());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    fuse_gone(&u);
    // Out of the stopped container: what the container saw, not the image's /data.
    u.ok(&p, &["cp", "app:/data", "out"]);
    let mut got: Vec<String> = fs::read_dir(p.join("out"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    got.sort();
    assert_eq!(got, ["only"]);
    assert_eq!(fs::read_to_string(p.join("out/only")).unwrap(), "mine\n");
    let gone = u.berth(&p, &["cp", "app:/bin/true", "true"]);
    assert!(!gone.status.success(), "{}", text(&gone));
    // Into it: the container finds the file when it starts again.
    fs::write(p.join("in.txt"), "copied in\n").unwrap();
    u.chown(&p.join("in.txt"));
    u.ok(&p, &["cp", "in.txt", "app:/data/in.txt"]);
    // The copy's fuse-overlayfs went with its mount.
    fuse_gone(&u);
    let mounts = u.ok(&p, &["unshare", "cat", "/proc/self/mountinfo"]);
    assert!(!mounts.contains("fuse-overlayfs"), "{mounts}");
    u.ok(&p, &["start"]);
    assert_eq!(
        u.ok(&p, &["exec", "app", "cat", "/data/in.txt"]),
        "copied in\n"
    );
    assert_eq!(u.ok(&p, &["exec", "app", "ls", "/data"]), "in.txt\nonly\n");
    u.ok(&p, &["down"]);
    u.assert_nothing_running();
}

/// A cgroup v2 directory delegated to a user (chowned as systemd's `Delegate=`
/// leaves it) with a `session` child the user's commands start in; removed
/// with everything in it when dropped.
struct Delegation {
    root: PathBuf,
}

impl Delegation {
    fn new(u: &User) -> Option<Delegation> {
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let v2 = mounts.lines().find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            post.starts_with("cgroup2 ")
                .then(|| PathBuf::from(pre.split(' ').nth(4).unwrap()))
        })?;
        let root = v2.join(format!("berth-test-{}", u.name));
        let d = Delegation { root };
        for dir in [d.root.clone(), d.root.join("session")] {
            fs::create_dir(&dir).unwrap();
            for f in [
                "",
                "cgroup.procs",
                "cgroup.subtree_control",
                "cgroup.threads",
            ] {
                std::os::unix::fs::chown(dir.join(f), Some(u.uid), Some(u.uid)).unwrap();
            }
        }
        Some(d)
    }
}

impl Drop for Delegation {
    fn drop(&mut self) {
        let _ = fs::write(self.root.join("cgroup.kill"), "1");
        let t0 = Instant::now();
        while fs::read_to_string(self.root.join("cgroup.events"))
            .is_ok_and(|e| e.contains("populated 1"))
            && t0.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Children first.
        let mut dirs = vec![self.root.clone()];
        let mut i = 0;
        while i < dirs.len() {
            if let Ok(rd) = fs::read_dir(&dirs[i]) {
                dirs.extend(rd.flatten().filter(|e| e.path().is_dir()).map(|e| e.path()));
            }
            i += 1;
        }
        for d in dirs.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
}

#[test]
fn a_delegated_cgroup_v2_subtree_holds_the_containers() {
    let _tun = Tun::open();
    let mut u = User::new("c");
    let Some(cg) = Delegation::new(&u) else {
        eprintln!("no cgroup v2 mount on this host: skipped");
        return;
    };
    u.cgroup = Some(cg.root.join("session"));
    let doctor = text(&u.berth(&u.home, &["doctor"]));
    assert!(
        doctor.contains(&format!("{} is the user's", cg.root.display())),
        "{doctor}"
    );
    let p = u.project(
        "cg",
        &format!(
            "services:\n  a:\n    image: {img}\n    command: [\"sleep\", \"1001\"]\n    mem_limit: 64m\n    pids_limit: 50\n",
            img = common::IMAGE
        ),
    );
    let out = u.berth(&p, &["up", "-d"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // Limits whose controllers the subtree lacks are named once.
    let ctrls = fs::read_to_string(cg.root.join("cgroup.controllers")).unwrap();
    for (key, c) in [
        ("services.a.mem_limit", "memory"),
        ("services.a.pids_limit", "pids"),
    ] {
        if !ctrls.split_whitespace().any(|x| x == c) {
            assert!(t.contains(&format!("{key} ({c})")), "{t}");
        }
    }
    assert!(t.matches("WARN").count() <= 1, "{t}");
    // The container's processes are tracked in the subtree, one cgroup each.
    let parent = cg.root.join("berth");
    let cgs: Vec<PathBuf> = fs::read_dir(&parent)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    assert_eq!(cgs.len(), 1, "{cgs:?}");
    let pids = fs::read_to_string(cgs[0].join("cgroup.procs")).unwrap();
    let cmd: Vec<String> = pids
        .lines()
        .map(|p| fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default())
        .collect();
    assert!(
        cmd.iter().any(|c| c.starts_with("sleep\u{0}1001")),
        "{cmd:?}"
    );
    // Inside, the container sees its own cgroup as the root.
    let inside = u.ok(&p, &["exec", "a", "cat", "/proc/self/cgroup"]);
    assert!(inside.lines().any(|l| l == "0::/"), "{inside}");
    u.ok(&p, &["down", "-t", "1"]);
    assert!(!cgs[0].exists(), "the container's cgroup is left");
    assert!(!parent.exists(), "berth's parent cgroup is left");
    u.assert_nothing_running();
}
