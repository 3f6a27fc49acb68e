//! Dockerfile features end to end (heredocs, ARG scoping, `--chown` by name,
//! USER and WORKDIR), and Ctrl-C in the middle of a RUN leaving nothing behind.

mod common;

use common::World;
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

fn project(w: &World, name: &str, dockerfile: &str) -> std::path::PathBuf {
    let p = w.project(name, "services:\n  app:\n    build: .\n");
    fs::write(
        p.join("Dockerfile"),
        dockerfile.replace("IMAGE", common::IMAGE),
    )
    .unwrap();
    p
}

#[test]
fn heredocs_args_chown_user_and_workdir() {
    let w = World::new();
    let p = project(
        &w,
        "features",
        r#"ARG BASE=IMAGE
FROM $BASE
ARG BASE
ARG WHO=world
ARG UNSEEN
RUN <<EOF
echo "hello $WHO" > /hello
echo "base=$BASE unseen=${UNSEEN:-none}" >> /hello
EOF
COPY --chown=nobody:nogroup <<EOF /owned
owned
EOF
COPY --chown=nobody f.txt /f.txt
RUN stat -c '%U:%G %a %n' /owned /f.txt > /stat
USER nobody
WORKDIR /work
RUN id -u > /work/uid && stat -c '%U' /work > /work/owner
ENTRYPOINT ["cat"]
CMD ["/hello", "/stat", "/work/uid", "/work/owner"]
"#,
    );
    fs::write(p.join("f.txt"), "file\n").unwrap();
    let out = w.berth_in(&p, &["build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = w.ok(&p, &["run", "--rm", "app"]);
    assert_eq!(
        got,
        format!(
            "hello world\nbase={} unseen=none\nnobody:nogroup 644 /owned\nnobody:nogroup 644 /f.txt\n65534\nnobody\n",
            common::IMAGE
        )
    );
    let inspect = w.ok(&p, &["image", "inspect", "features-app"]);
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v[0]["Config"]["User"], "nobody");
    assert_eq!(v[0]["Config"]["WorkingDir"], "/work");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn ctrl_c_in_a_run_leaves_nothing() {
    let w = World::new();
    let p = project(&w, "cancel", "FROM IMAGE\nRUN echo started && sleep 60\n");
    let mut child = w
        .berth_command(&p, &["build"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = vec![];
    for l in lines.by_ref() {
        let l = l.unwrap();
        seen.push(l.clone());
        if l.ends_with(" started") {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.ends_with(" started")), "{seen:?}");
    // SAFETY: kill of the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        rest.iter()
            .any(|l| l.contains("cancelled") || l.contains("CANCELED")),
        "{rest:?}"
    );
    w.assert_clean();
    let tmp: Vec<_> = fs::read_dir(w.root().join("build/tmp"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "{tmp:?}");
    let cgroups: Vec<_> = fs::read_dir("/sys/fs/cgroup/memory/berth")
        .or_else(|_| fs::read_dir("/sys/fs/cgroup/berth"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&format!("build-{}-", child.id())))
                .collect()
        })
        .unwrap_or_default();
    assert!(cgroups.is_empty(), "{cgroups:?}");
    let images = w.ok(&p, &["image", "ls"]);
    assert!(!images.contains("cancel-app"), "{images}");
}
