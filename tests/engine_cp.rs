//! `cp`: files and directories in and out of service containers, running and
//! stopped, with docker cp's path rules, as a user would copy them (as root).

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::World;

const SLEEPER: &str = r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    volumes:
      - store:/store
volumes:
  store: {}
"#;

fn sh(w: &World, p: &Path, script: &str) -> String {
    w.ok(p, &["exec", "-T", "web", "sh", "-c", script])
}

fn fails(w: &World, p: &Path, args: &[&str]) -> String {
    let out = w.berth_in(p, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "berth {args:?} should fail with 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn files_and_dirs_in_and_out_of_a_running_container() {
    let w = World::new();
    let p = w.project("cprun", SLEEPER);
    w.ok(&p, &["up", "-d"]);
    let local = p.join("local");
    fs::create_dir_all(local.join("tree/sub")).unwrap();
    fs::write(local.join("hello.txt"), "hello\n").unwrap();
    fs::write(local.join("tree/a"), "a\n").unwrap();
    fs::write(local.join("tree/sub/b"), "b\n").unwrap();
    std::os::unix::fs::symlink("a", local.join("tree/link")).unwrap();
    fs::hard_link(local.join("tree/a"), local.join("tree/sub/hard")).unwrap();

    // A file into an existing dir, and under a new name (relative to /).
    w.ok(&p, &["cp", "local/hello.txt", "web:/tmp"]);
    w.ok(&p, &["cp", "local/hello.txt", "web:tmp/renamed"]);
    assert_eq!(
        sh(&w, &p, "cat /tmp/hello.txt /tmp/renamed"),
        "hello\nhello\n"
    );
    // Copied in, it belongs to root.
    assert_eq!(sh(&w, &p, "stat -c %u:%g /tmp/hello.txt"), "0:0\n");

    // A directory: as a subdirectory, as a new name, and its contents with `/.`.
    w.ok(&p, &["cp", "local/tree", "web:/tmp"]);
    w.ok(&p, &["cp", "local/tree", "web:/tmp/newdir"]);
    sh(&w, &p, "mkdir /tmp/existing");
    w.ok(&p, &["cp", "local/tree/.", "web:/tmp/existing"]);
    assert_eq!(
        sh(
            &w,
            &p,
            "cat /tmp/tree/sub/b /tmp/newdir/a /tmp/existing/sub/b; readlink /tmp/tree/link; stat -c %h /tmp/tree/a"
        ),
        "b\na\nb\na\n2\n"
    );

    // A missing name with a trailing '/' must be an existing directory.
    let err = fails(&w, &p, &["cp", "local/hello.txt", "web:/tmp/nodir/"]);
    assert!(err.contains("no such directory"), "{err}");

    // Out: a file to a new name, a directory, a directory's contents.
    let out = p.join("out");
    fs::create_dir(&out).unwrap();
    sh(
        &w,
        &p,
        "mkdir -p /made/deep && echo inside > /made/deep/f && chown 123:456 /made/deep/f",
    );
    w.ok(&p, &["cp", "web:/made/deep/f", "out/f.txt"]);
    assert_eq!(fs::read_to_string(out.join("f.txt")).unwrap(), "inside\n");
    // Copied out, it belongs to the user who ran berth.
    assert_eq!(fs::metadata(out.join("f.txt")).unwrap().uid(), unsafe {
        libc::getuid()
    });
    w.ok(&p, &["cp", "web:/made", "out"]);
    assert_eq!(
        fs::read_to_string(out.join("made/deep/f")).unwrap(),
        "inside\n"
    );
    w.ok(&p, &["cp", "web:/made/.", "out/contents"]);
    assert_eq!(
        fs::read_to_string(out.join("contents/deep/f")).unwrap(),
        "inside\n"
    );
    // The round trip keeps links.
    w.ok(&p, &["cp", "web:/tmp/tree", "out/back"]);
    assert_eq!(
        fs::read_link(out.join("back/link")).unwrap(),
        Path::new("a")
    );
    assert_eq!(fs::metadata(out.join("back/a")).unwrap().nlink(), 2);

    // A missing path is an error that names it.
    let err = fails(&w, &p, &["cp", "web:/no/such", "out"]);
    assert!(
        err.contains("Could not find the file /no/such in container cprun-web-1"),
        "{err}"
    );
    let err = fails(&w, &p, &["cp", "web:/x", "out", "--all"]);
    assert!(err.contains("--all"), "{err}");
    let err = fails(&w, &p, &["cp", "nosvc:/x", "out"]);
    assert!(err.contains("no such service: nosvc"), "{err}");

    w.ok(&p, &["down", "-v", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn tar_streams_on_stdin_and_stdout() {
    let w = World::new();
    let p = w.project("cptar", SLEEPER);
    w.ok(&p, &["up", "-d"]);
    sh(
        &w,
        &p,
        "mkdir -p /srv/site && echo page > /srv/site/index.html",
    );

    let out = w.berth_in(&p, &["cp", "web:/srv/site", "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = tar::Archive::new(&out.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["site", "site/index.html"]);

    // The same stream back into another directory (which must exist).
    let mut child = w
        .berth_command(&p, &["cp", "-", "web:/tmp"])
        .stdin(Stdio::piped())
        .output_and_stdin(&out.stdout);
    assert!(
        child.status.success(),
        "{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert_eq!(sh(&w, &p, "cat /tmp/site/index.html"), "page\n");
    child = w
        .berth_command(&p, &["cp", "-", "web:/tmp/missing"])
        .stdin(Stdio::piped())
        .output_and_stdin(&out.stdout);
    assert_eq!(child.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&child.stderr).contains("must be a directory"));

    w.ok(&p, &["down", "-v", "-t", "0"]);
    w.assert_clean();
}

trait FeedStdin {
    fn output_and_stdin(&mut self, input: &[u8]) -> std::process::Output;
}

impl FeedStdin for Command {
    fn output_and_stdin(&mut self, input: &[u8]) -> std::process::Output {
        let mut c = self
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(input).unwrap();
        c.wait_with_output().unwrap()
    }
}

#[test]
fn stopped_containers_and_volumes() {
    let w = World::new();
    let p = w.project("cpstop", SLEEPER);
    w.ok(&p, &["create"]);
    fs::write(p.join("conf"), "v1\n").unwrap();
    // Into a created container: its upper dir, and its named volume.
    w.ok(&p, &["cp", "conf", "web:/etc/app.conf"]);
    w.ok(&p, &["cp", "conf", "web:/store/in-volume"]);
    // Out of it, from the image's own files.
    w.ok(&p, &["cp", "web:/data/seed", "seed"]);
    assert_eq!(
        fs::read_to_string(p.join("seed")).unwrap(),
        "from the image\n"
    );

    w.ok(&p, &["start"]);
    assert_eq!(sh(&w, &p, "cat /etc/app.conf /store/in-volume"), "v1\nv1\n");
    // The volume on the host got the file, not the container's rootfs.
    let vol = w.root().join("volumes/cpstop_store/_data/in-volume");
    assert_eq!(fs::read_to_string(vol).unwrap(), "v1\n");

    // A running container's volume, then stopped again: still copies both ways.
    w.ok(&p, &["cp", "conf", "web:/store/second"]);
    w.ok(&p, &["stop", "-t", "0"]);
    w.ok(&p, &["cp", "web:/store/second", "second"]);
    assert_eq!(fs::read_to_string(p.join("second")).unwrap(), "v1\n");
    let err = fails(&w, &p, &["cp", "web:/nothere", "x"]);
    assert!(
        err.contains("Could not find the file /nothere in container cpstop-web-1"),
        "{err}"
    );

    w.ok(&p, &["down", "-v", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn symlinks_in_the_container_never_lead_to_the_host() {
    let w = World::new();
    let p = w.project("cpesc", SLEEPER);
    w.ok(&p, &["up", "-d"]);
    let host_passwd = fs::read("/etc/passwd").unwrap();
    let host_mtime = fs::metadata("/etc/passwd").unwrap().mtime();
    sh(
        &w,
        &p,
        "ln -s /etc/passwd /tmp/abs && ln -s ../../../../etc/passwd /tmp/rel && ln -s ../../../.. /tmp/up",
    );
    fs::write(p.join("evil"), "owned\n").unwrap();
    w.ok(&p, &["cp", "evil", "web:/tmp/abs"]);
    w.ok(&p, &["cp", "evil", "web:/tmp/rel"]);
    w.ok(&p, &["cp", "evil", "web:/tmp/up/etc/shadow-ish"]);
    assert_eq!(fs::read("/etc/passwd").unwrap(), host_passwd);
    assert_eq!(fs::metadata("/etc/passwd").unwrap().mtime(), host_mtime);
    assert!(!Path::new("/etc/shadow-ish").exists());
    // The writes landed in the container, at the symlinks' in-container targets.
    assert_eq!(
        sh(&w, &p, "cat /etc/passwd /etc/shadow-ish"),
        "owned\nowned\n"
    );

    // Copying out reads the container's file, not the host's; -L follows the link.
    sh(
        &w,
        &p,
        "echo mine > /tmp/target && ln -s /tmp/target /tmp/tl",
    );
    w.ok(&p, &["cp", "web:/tmp/tl", "link-as-link"]);
    assert_eq!(
        fs::read_link(p.join("link-as-link")).unwrap(),
        Path::new("/tmp/target")
    );
    w.ok(&p, &["cp", "-L", "web:/tmp/tl", "followed"]);
    assert_eq!(fs::read_to_string(p.join("followed")).unwrap(), "mine\n");

    // Never written through a device.
    let err = fails(&w, &p, &["cp", "evil", "web:/dev/null"]);
    assert!(
        err.contains("must be a directory or a regular file"),
        "{err}"
    );

    w.ok(&p, &["down", "-v", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn archive_mode_and_every_replica() {
    let w = World::new();
    let p = w.project(
        "cprep",
        r#"
services:
  web:
    image: IMAGE
    init: true
    command: ["sleep", "3600"]
    deploy:
      replicas: 2
"#,
    );
    w.ok(&p, &["up", "-d"]);
    let f = p.join("owned");
    fs::write(&f, "x\n").unwrap();
    std::os::unix::fs::chown(&f, Some(1234), Some(5678)).unwrap();

    w.ok(&p, &["cp", "owned", "web:/tmp/plain"]);
    w.ok(&p, &["cp", "-a", "owned", "web:/tmp/kept"]);
    for i in ["1", "2"] {
        let out = w.ok(
            &p,
            &[
                "exec",
                "-T",
                "--index",
                i,
                "web",
                "stat",
                "-c",
                "%u:%g",
                "/tmp/plain",
                "/tmp/kept",
            ],
        );
        assert_eq!(out, "0:0\n1234:5678\n", "replica {i}");
    }
    // --index picks one replica.
    w.ok(&p, &["cp", "--index", "2", "owned", "web:/tmp/only2"]);
    let two = w.berth_in(
        &p,
        &[
            "exec",
            "-T",
            "--index",
            "2",
            "web",
            "test",
            "-f",
            "/tmp/only2",
        ],
    );
    let one = w.berth_in(
        &p,
        &[
            "exec",
            "-T",
            "--index",
            "1",
            "web",
            "test",
            "-f",
            "/tmp/only2",
        ],
    );
    assert_eq!((two.status.code(), one.status.code()), (Some(0), Some(1)));
    let err = fails(&w, &p, &["cp", "--index", "3", "owned", "web:/tmp"]);
    assert!(err.contains("container #3"), "{err}");

    w.ok(&p, &["down", "-v", "-t", "0"]);
    w.assert_clean();
}
