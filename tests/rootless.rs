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
        let u = User { name, home, uid };
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
        Command::new("/usr/sbin/runuser")
            .args(["-u", &self.name, "--"])
            .arg(self.home.join("berth"))
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("HOME", &self.home)
            // A Debian user's PATH: no sbin directories (nft lives there).
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("USER", &self.name)
            .output()
            .unwrap()
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

/// `/dev/net/tun` opened to every user (pasta needs it; a host without udev
/// leaves it 0600) for as long as one guard lives; the last guard of this test
/// binary restores its mode, even when a test fails.
struct Tun;

static TUN: std::sync::Mutex<(usize, u32)> = std::sync::Mutex::new((0, 0));

impl Tun {
    fn open() -> Tun {
        let mut g = TUN.lock().unwrap_or_else(|e| e.into_inner());
        if g.0 == 0 {
            g.1 = fs::metadata("/dev/net/tun").unwrap().mode() & 0o7777;
            fs::set_permissions("/dev/net/tun", fs::Permissions::from_mode(0o666)).unwrap();
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
            let _ = fs::set_permissions("/dev/net/tun", fs::Permissions::from_mode(g.1));
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
            "id -u; id -g; stat -c %u /work/mine",
        ],
    );
    let want = format!("{0}\n{0}\n{0}\n", u.uid);
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
