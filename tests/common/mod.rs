//! What berth's end-to-end tests share: a per-test state root with a busybox
//! image in it, projects in temp dirs, the `berth` binary, and cleanup that runs
//! even when a test fails.

#![allow(dead_code)]

pub mod pty;
pub mod scenario;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The busybox image every test imports.
pub const IMAGE: &str = "localhost/busybox:test";

/// A rootfs tarball of Debian's busybox-static, made once per test binary.
pub fn busybox_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        // In cargo's per-target temp dir, not /tmp: made once, reused, nothing left
        // behind. Each test binary writes its own copy and renames it into place.
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("busybox.tar");
        let tmp = dir.join(format!("busybox.tar.{}", std::process::id()));
        let mut b = tar::Builder::new(fs::File::create(&tmp).unwrap());
        let mut dir_entry = |name: &str, mode: u32| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(mode);
            h.set_size(0);
            b.append_data(&mut h, name, std::io::empty()).unwrap();
        };
        for (d, m) in [
            ("bin", 0o755),
            ("etc", 0o755),
            ("tmp", 0o1777),
            ("proc", 0o755),
            ("sys", 0o755),
            ("dev", 0o755),
            ("root", 0o700),
            ("data", 0o755),
        ] {
            dir_entry(d, m);
        }
        let busybox =
            fs::read("/bin/busybox").expect("busybox-static is installed (scripts/setup)");
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_size(busybox.len() as u64);
        b.append_data(&mut h, "bin/busybox", &busybox[..]).unwrap();
        let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet == "busybox" {
                continue;
            }
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            h.set_size(0);
            b.append_link(&mut h, format!("bin/{applet}"), "busybox")
                .unwrap();
        }
        for (name, text) in [
            (
                "etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
            ),
            ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
            ("data/seed", "from the image\n"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(text.len() as u64);
            b.append_data(&mut h, name, text.as_bytes()).unwrap();
        }
        b.finish().unwrap();
        fs::rename(&tmp, &path).unwrap();
        path
    })
}

/// One test's world: a state root, its projects, and a guard that takes it all down.
pub struct World {
    /// Temp dir holding the root and the projects.
    pub dir: tempfile::TempDir,
    projects: std::cell::RefCell<Vec<PathBuf>>,
    reaper: Option<Reaper>,
}

/// What takes a world down when the test process dies without dropping it (killed
/// by a timeout, SIGKILL, an abort): a shell in its own session that reads a pipe
/// whose write end only this process holds. `done` on the pipe means the world
/// was dropped and cleaned; end of file without it means the process died, and
/// the shell runs `down -v` in each project, kills the root's processes and
/// removes the temp dir (unless something is still mounted in it).
struct Reaper {
    tx: fs::File,
    child: std::process::Child,
}

/// The projects a reaper takes down, one directory per line.
const REAPER_PROJECTS: &str = ".reaper-projects";

const REAPER_SCRIPT: &str = r#"
read -r word
[ "$word" = done ] && exit 0
if [ -f "$DIR/.reaper-projects" ]; then
  while IFS= read -r p; do
    (cd "$p" && "$BERTH" --root "$ROOT" down -v -t 0 --remove-orphans) >/dev/null 2>&1
  done <"$DIR/.reaper-projects"
fi
pkill -9 -f "$ROOT"
grep -q " $DIR" /proc/mounts || rm -rf "$DIR"
"#;

impl Reaper {
    fn start(dir: &Path, root: &Path) -> Option<Reaper> {
        use std::os::fd::FromRawFd;
        use std::os::unix::process::CommandExt;
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two fds we then own; O_CLOEXEC keeps the write end out
        // of every process this test spawns, so only our death closes it.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return None;
        }
        // SAFETY: both fds are fresh from pipe2 and owned by nobody else.
        let (rx, tx) = unsafe {
            (
                std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                fs::File::from_raw_fd(fds[1]),
            )
        };
        let mut cmd = Command::new("sh");
        // The paths go in the environment, not the command line, so the final
        // `pkill -f ROOT` does not match the reaper itself.
        cmd.arg("-c")
            .arg(REAPER_SCRIPT)
            .env("DIR", dir)
            .env("ROOT", root)
            .env("BERTH", env!("CARGO_BIN_EXE_berth"))
            .stdin(std::process::Stdio::from(rx))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: setsid is async-signal-safe; its own session keeps the reaper
        // alive when the test's process group is killed.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd.spawn().ok()?;
        Some(Reaper { tx, child })
    }

    /// The world was cleaned: the reaper ends without doing anything.
    fn dismiss(mut self) {
        use std::io::Write;
        let _ = self.tx.write_all(b"done\n");
        drop(self.tx);
        let _ = self.child.wait();
    }
}

impl World {
    /// A fresh state root with the busybox image imported.
    pub fn new() -> World {
        let mut dir = tempfile::Builder::new()
            .prefix("berth-e2e-")
            .tempdir()
            .unwrap();
        if std::env::var_os("BERTH_TEST_KEEP").is_some() {
            dir.disable_cleanup(true);
        }
        let reaper = if std::env::var_os("BERTH_TEST_KEEP").is_some() {
            None
        } else {
            Reaper::start(dir.path(), &dir.path().join("root"))
        };
        let w = World {
            dir,
            projects: Default::default(),
            reaper,
        };
        let out = w.berth_in(
            w.dir.path(),
            &["image", "import", busybox_tar().to_str().unwrap(), IMAGE],
        );
        assert!(
            out.status.success(),
            "import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        w
    }

    /// The state root.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Writes a project's compose.yaml (`name` is also its directory).
    pub fn project(&self, name: &str, yaml: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("compose.yaml"), yaml.replace("IMAGE", IMAGE)).unwrap();
        let mut ps = self.projects.borrow_mut();
        if !ps.contains(&p) {
            ps.push(p.clone());
            let list: String = ps.iter().map(|p| format!("{}\n", p.display())).collect();
            let _ = fs::write(self.dir.path().join(REAPER_PROJECTS), list);
        }
        p
    }

    /// The berth command in `dir` with this world's root, plain progress and no
    /// compose variables from the test's own environment.
    pub fn berth_command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
        cmd.arg("--root")
            .arg(self.root())
            .args(args)
            .current_dir(dir)
            .env("COMPOSE_PROGRESS", "plain")
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROJECT_NAME");
        cmd
    }

    /// Runs berth in `dir` with this world's root.
    pub fn berth_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.berth_command(dir, args).output().unwrap()
    }

    /// Runs berth in `dir` with extra environment variables.
    pub fn berth_env(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.berth_command(dir, args)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// Runs berth in `dir`, asserting success; returns stdout.
    pub fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.berth_in(dir, args);
        assert!(
            out.status.success(),
            "berth {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ps -a --format json` as values.
    pub fn ps(&self, dir: &Path) -> Vec<serde_json::Value> {
        self.ok(dir, &["ps", "-a", "--format", "json"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until `f` holds, or fails the test after `secs`.
    pub fn wait_until(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let t0 = Instant::now();
        while !f() {
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asserts nothing of this root is left in the kernel: processes, mounts,
    /// cgroups, namespaces, bridges.
    pub fn assert_clean(&self) {
        let root = self.root();
        let root_s = root.to_string_lossy().into_owned();
        let leftovers = || {
            let procs = Command::new("pgrep")
                .arg("-af")
                .arg(&root_s)
                .output()
                .unwrap();
            let mounts: Vec<String> = fs::read_to_string("/proc/mounts")
                .unwrap()
                .lines()
                .filter(|l| l.contains(&root_s))
                .map(String::from)
                .collect();
            let netns: Vec<_> = fs::read_dir(root.join("run/netns"))
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            let nets: Vec<_> = fs::read_dir(root.join("run/net/networks"))
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            let procs = String::from_utf8_lossy(&procs.stdout).into_owned();
            if procs.is_empty() && mounts.is_empty() && netns.is_empty() && nets.is_empty() {
                None
            } else {
                Some(format!(
                    "processes: {procs}\nmounts: {mounts:?}\nnetns: {netns:?}\nnetworks: {nets:?}"
                ))
            }
        };
        let t0 = Instant::now();
        while let Some(what) = leftovers() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "left behind:\n{what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Newest first: a later project may use an earlier one's network as
        // external, and a network still in use is left standing by `down`.
        for p in self.projects.borrow().iter().rev() {
            let _ = self.berth_in(p, &["down", "-v", "-t", "0", "--remove-orphans"]);
        }
        // Anything a crashed test left: kill this root's processes.
        let _ = Command::new("pkill")
            .arg("-9")
            .arg("-f")
            .arg(self.root().to_string_lossy().as_ref())
            .status();
        if let Some(r) = self.reaper.take() {
            r.dismiss();
        }
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GETs `path` from 127.0.0.1:`port` with a plain HTTP/1.0 request.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// `name → container` from `ps -a --format json`.
pub fn by_name(w: &World, p: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    w.ps(p)
        .into_iter()
        .map(|c| (c["Name"].as_str().unwrap().to_string(), c))
        .collect()
}

/// `name → State`, sorted by name.
pub fn states(w: &World, p: &Path) -> std::collections::BTreeMap<String, String> {
    by_name(w, p)
        .into_iter()
        .map(|(n, c)| (n, c["State"].as_str().unwrap().to_string()))
        .collect()
}

/// Runs berth expecting failure; returns stdout and stderr together.
pub fn fails(w: &World, p: &Path, args: &[&str]) -> String {
    let out = w.berth_in(p, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "berth {args:?} succeeded:\n{text}");
    text
}
