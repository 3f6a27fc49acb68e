//! berth's state is root's alone: another host user cannot reach a setuid binary
//! from an image layer or a container's upper dir, nor read a secret from the
//! environment or the logs, whatever umask berth was run under; an older root
//! that was left open is closed by the next command. And the container's own
//! files do not follow berth's umask: its non-root user writes /dev/null.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::World;

const SECRET: &str = "s3cret-pw-4711";

/// Runs berth in `dir` under `umask`, as a caller with a careless shell would.
fn berth_under_umask(w: &World, dir: &Path, umask: &str, args: &[&str]) -> Output {
    let berth = env!("CARGO_BIN_EXE_berth");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("umask {umask}; exec \"$@\""))
        .arg("sh")
        .arg(berth)
        .arg("--root")
        .arg(w.root())
        .args(args)
        .current_dir(dir)
        .env("COMPOSE_PROGRESS", "plain");
    cmd.output().unwrap()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the host's busybox applet as uid/gid 65534 with no groups (an unprivileged host user).
fn as_nobody(args: &[&str]) -> Output {
    // setpriv (util-linux) drops the supplementary groups too, which std cannot yet.
    Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg("/bin/busybox")
        .args(args)
        .output()
        .unwrap()
}

/// A rootfs tar whose `bin/suid` is a setuid-root copy of busybox, plus the busybox
/// test image's files.
fn suid_image_tar(dir: &Path) -> PathBuf {
    let path = dir.join("suid.tar");
    let mut b = tar::Builder::new(fs::File::create(&path).unwrap());
    let mut base = tar::Archive::new(fs::File::open(common::busybox_tar()).unwrap());
    for e in base.entries().unwrap() {
        let mut e = e.unwrap();
        let mut h = e.header().clone();
        let name = e.path().unwrap().into_owned();
        if h.entry_type() == tar::EntryType::Symlink {
            let target = e.link_name().unwrap().unwrap().into_owned();
            b.append_link(&mut h, &name, &target).unwrap();
        } else {
            b.append_data(&mut h, &name, &mut e).unwrap();
        }
    }
    let busybox = fs::read("/bin/busybox").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o4755);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(busybox.len() as u64);
    b.append_data(&mut h, "bin/suid", &busybox[..]).unwrap();
    b.finish().unwrap();
    path
}

/// Every path below `dir` (as root), symlinks not followed.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        out.push(p.clone());
        if e.file_type().unwrap().is_dir() {
            walk(&p, out);
        }
    }
}

#[test]
fn another_host_user_reaches_nothing_in_the_state_root_whatever_the_umask() {
    let w = World::new();
    // The test's own temp dir is private; open it so that berth's modes alone
    // decide what uid 65534 can reach (as under /var/lib).
    fs::set_permissions(w.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let tar = suid_image_tar(w.dir.path());
    ok(
        berth_under_umask(
            &w,
            w.dir.path(),
            "000",
            &[
                "image",
                "import",
                tar.to_str().unwrap(),
                "localhost/suid:test",
            ],
        ),
        "import",
    );
    let p = w.project(
        "closed",
        &format!(
            r#"
services:
  app:
    image: localhost/suid:test
    environment:
      DB_PASSWORD: {SECRET}
    command: ["sh", "-c", "cp /bin/busybox /planted && chmod 4755 /planted && echo pw=$$DB_PASSWORD && echo ready && exec sleep 3600"]
"#
        ),
    );
    ok(berth_under_umask(&w, &p, "000", &["up", "-d"]), "up");
    w.wait_until(20, "the container to plant its binary", || {
        w.ok(&p, &["logs", "app"]).contains("ready")
    });

    let root = w.root();
    let mut all = Vec::new();
    walk(&root, &mut all);
    let planted: Vec<_> = all
        .iter()
        .filter(|p| p.ends_with("upper/planted"))
        .collect();
    let shipped: Vec<_> = all
        .iter()
        .filter(|p| p.ends_with("diff/bin/suid"))
        .collect();
    assert_eq!(planted.len(), 1, "{planted:?}");
    assert_eq!(shipped.len(), 1, "{shipped:?}");

    // The root and run dir are closed; so is every file that holds the secret.
    for d in [&root, &root.join("run")] {
        let mode = fs::metadata(d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", d.display());
    }
    let mut with_secret = 0;
    for f in all.iter().filter(|p| p.is_file() && !p.is_symlink()) {
        if fs::read(f)
            .map(|b| b.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()))
            .unwrap_or(false)
        {
            with_secret += 1;
            let mode = fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode & 0o007,
                0,
                "{} holds the secret, mode {mode:o}",
                f.display()
            );
        }
    }
    assert!(with_secret >= 2, "the secret is in the records and the log");

    // As another user: nothing to list, nothing to run, nothing to grep.
    let target = [planted[0], shipped[0]];
    for bin in target {
        let out = as_nobody(&["sh", "-c", &format!("{} id -u", bin.display())]);
        assert!(
            !out.status.success(),
            "uid 65534 ran {}: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stdout)
        );
        let out = as_nobody(&["stat", &bin.to_string_lossy()]);
        assert!(!out.status.success(), "uid 65534 reached {}", bin.display());
    }
    let out = as_nobody(&["ls", &root.to_string_lossy()]);
    assert!(!out.status.success(), "uid 65534 listed the state root");
    let out = as_nobody(&["grep", "-r", SECRET, &root.to_string_lossy()]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(SECRET),
        "uid 65534 read the secret"
    );

    w.ok(&p, &["down", "-v", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn a_root_left_open_by_an_older_berth_is_closed_by_the_next_command() {
    let w = World::new();
    let p = w.project(
        "reopen",
        r#"
services:
  app:
    image: IMAGE
    environment:
      TOKEN: abc
    command: ["sleep", "3600"]
"#,
    );
    w.ok(&p, &["up", "-d"]);
    // What a berth before this fix left: everything world-readable.
    let root = w.root();
    let mut all = Vec::new();
    walk(&root, &mut all);
    let records: Vec<_> = all
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
        .cloned()
        .collect();
    assert!(!records.is_empty());
    for d in [root.clone(), root.join("containers"), root.join("layers")] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    for f in &records {
        fs::set_permissions(f, fs::Permissions::from_mode(0o644)).unwrap();
    }

    w.ok(&p, &["ps"]);
    for d in [root.clone(), root.join("containers"), root.join("layers")] {
        let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
    for f in &records {
        let mode = fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", f.display());
    }
    // And the container still runs as before.
    assert_eq!(w.ps(&p)[0]["State"], "running");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn a_non_root_container_user_writes_dev_null_under_a_strict_umask() {
    let w = World::new();
    let p = w.project(
        "devnull",
        r#"
services:
  app:
    image: IMAGE
    user: "65534:65534"
    command:
      - sh
      - -c
      - |
        echo x > /dev/null && head -c1 /dev/urandom > /dev/null && echo devnull-ok
        ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty
        ls -ld / /etc /etc/hosts /etc/resolv.conf /etc/hostname
"#,
    );
    let out = ok(
        berth_under_umask(&w, &p, "077", &["run", "--rm", "-T", "app"]),
        "run",
    );
    assert!(out.contains("devnull-ok"), "{out}");
    for line in out.lines().filter(|l| l.contains("/dev/")) {
        assert!(line.starts_with("crw-rw-rw-"), "{line}");
    }
    // The container's `/` and the files berth binds in are readable by its user.
    for line in out
        .lines()
        .filter(|l| l.ends_with(" /") || l.contains("/etc"))
    {
        assert!(
            line.starts_with("drwxr-xr-x") || line.starts_with("-rw-r--r--"),
            "{line}"
        );
    }
    w.ok(&p, &["down"]);
    w.assert_clean();
}
