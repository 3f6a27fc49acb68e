//! `berth build`: multi-stage builds from the busybox test image, the cache
//! (which change invalidates which step), `.dockerignore`, a failing RUN, and
//! nothing of a build left behind.

mod common;

use common::{fails, World};
use std::fs;
use std::path::Path;

const MULTI: &str = r#"FROM IMAGE AS base
ARG GREETING=hello
ENV APP=/app
WORKDIR $APP
COPY . .
RUN echo "$GREETING from $(pwd)" > greet && cat a.txt >> greet

FROM IMAGE
COPY --from=base /app/greet /greet
RUN rm /data/seed
CMD ["cat", "/greet"]
"#;

fn project(w: &World, name: &str, dockerfile: &str) -> std::path::PathBuf {
    let p = w.project(name, "services:\n  app:\n    build: .\n");
    fs::write(
        p.join("Dockerfile"),
        dockerfile.replace("IMAGE", common::IMAGE),
    )
    .unwrap();
    p
}

/// (step name, CACHED?) for every step line of a plain build.
fn steps(stderr: &str) -> Vec<(String, bool)> {
    let mut names: Vec<(String, String)> = vec![];
    let mut out = vec![];
    for l in stderr.lines() {
        let Some(rest) = l.strip_prefix('#') else {
            continue;
        };
        let (n, text) = rest.split_once(' ').unwrap_or((rest, ""));
        if text.starts_with('[') {
            names.push((n.to_string(), text.to_string()));
        } else if text == "CACHED" || text.starts_with("DONE") {
            if let Some((_, name)) = names.iter().find(|(k, _)| k == n) {
                out.push((name.clone(), text == "CACHED"));
            }
        }
    }
    out
}

fn build(w: &World, p: &Path, args: &[&str]) -> String {
    let mut a = vec!["build"];
    a.extend_from_slice(args);
    let out = w.berth_in(p, &a);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build failed:\n{err}");
    err
}

fn image_id(w: &World, p: &Path, name: &str) -> String {
    let out = w.ok(p, &["image", "inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["Id"].as_str().unwrap().to_string()
}

fn cached(steps: &[(String, bool)], needle: &str) -> bool {
    steps
        .iter()
        .find(|(n, _)| n.contains(needle))
        .unwrap_or_else(|| panic!("no step {needle} in {steps:?}"))
        .1
}

fn build_leftovers(w: &World) -> Vec<String> {
    fs::read_dir(w.root().join("build/tmp"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn multi_stage_build_runs_with_up() {
    let w = World::new();
    let p = project(&w, "multi", MULTI);
    fs::write(p.join("a.txt"), "from the context\n").unwrap();
    let err = build(&w, &p, &[]);
    assert!(err.contains("[app base 6/6] RUN"), "{err}");
    assert!(err.contains("-app Built"), "{err}");
    let out = w.ok(&p, &["run", "--rm", "app"]);
    assert_eq!(out, "hello from /app\nfrom the context\n");
    // The RUN's deletion of an image file is a whiteout in its layer.
    let out = w.ok(&p, &["run", "--rm", "app", "ls", "/data"]);
    assert_eq!(out.trim(), "");
    let inspect = w.ok(&p, &["image", "inspect", "multi-app"]);
    assert!(
        inspect.contains("\"com.docker.compose.service\": \"app\""),
        "{inspect}"
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
    assert!(build_leftovers(&w).is_empty());
}

#[test]
fn cache_hits_and_misses() {
    let w = World::new();
    let p = project(&w, "cache", MULTI);
    fs::write(p.join("a.txt"), "one\n").unwrap();
    fs::write(p.join(".dockerignore"), "ignored/\n").unwrap();
    fs::create_dir(p.join("ignored")).unwrap();
    let first = steps(&build(&w, &p, &[]));
    assert!(first.iter().all(|(_, c)| !c), "{first:?}");
    let id = image_id(&w, &p, "cache-app");

    // Nothing changed: every step cached, the same image id.
    let again = steps(&build(&w, &p, &[]));
    for (n, c) in &again {
        assert!(*c || n.contains("FROM"), "{n} not cached: {again:?}");
    }
    assert_eq!(image_id(&w, &p, "cache-app"), id);

    // An ignored file changes nothing; its mtime alone changes nothing either.
    fs::write(p.join("ignored/x"), "x").unwrap();
    let f = fs::File::options()
        .write(true)
        .open(p.join("a.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
    build(&w, &p, &[]);
    assert_eq!(image_id(&w, &p, "cache-app"), id);

    // A context file: COPY and what follows rebuild, what precedes stays cached.
    fs::write(p.join("a.txt"), "two\n").unwrap();
    let s = steps(&build(&w, &p, &[]));
    assert!(cached(&s, "WORKDIR"), "{s:?}");
    assert!(!cached(&s, "COPY . ."), "{s:?}");
    assert!(!cached(&s, "base 6/6] RUN"), "{s:?}");
    assert_ne!(image_id(&w, &p, "cache-app"), id);

    // A build arg: the steps after its ARG that see it rebuild.
    let s = steps(&build(&w, &p, &["--build-arg", "GREETING=hi"]));
    assert!(cached(&s, "COPY . ."), "{s:?}");
    assert!(!cached(&s, "base 6/6] RUN"), "{s:?}");
    assert_eq!(w.ok(&p, &["run", "--rm", "app"]), "hi from /app\ntwo\n");

    // --no-cache: nothing cached.
    let s = steps(&build(
        &w,
        &p,
        &["--no-cache", "--build-arg", "GREETING=hi"],
    ));
    assert!(s.iter().all(|(_, c)| !c), "{s:?}");

    // The cache survives the image's removal and image prune.
    w.ok(&p, &["down", "--rmi", "all"]);
    w.ok(&p, &["image", "prune"]);
    let s = steps(&build(&w, &p, &["--build-arg", "GREETING=hi"]));
    assert!(cached(&s, "base 6/6] RUN"), "{s:?}");

    // builder prune -a empties it.
    w.ok(&p, &["builder", "prune", "-a", "-f"]);
    let s = steps(&build(&w, &p, &["--build-arg", "GREETING=hi"]));
    assert!(!cached(&s, "base 6/6] RUN"), "{s:?}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn dockerignore_keeps_files_out() {
    let w = World::new();
    let p = project(
        &w,
        "ignore",
        "FROM IMAGE\nCOPY . /ctx/\nCMD [\"find\", \"/ctx\", \"-type\", \"f\"]\n",
    );
    fs::write(p.join(".dockerignore"), "secret*\n*.log\n!keep.log\n").unwrap();
    for f in ["app.txt", "secret.key", "debug.log", "keep.log"] {
        fs::write(p.join(f), f).unwrap();
    }
    build(&w, &p, &[]);
    let mut files: Vec<String> = w
        .ok(&p, &["run", "--rm", "app"])
        .lines()
        .map(String::from)
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "/ctx/.dockerignore",
            "/ctx/Dockerfile",
            "/ctx/app.txt",
            "/ctx/compose.yaml",
            "/ctx/keep.log"
        ]
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn a_failing_run_says_why_and_leaves_nothing() {
    let w = World::new();
    let p = project(&w, "fail", "FROM IMAGE\nRUN echo first > /f\n");
    build(&w, &p, &[]);
    let id = image_id(&w, &p, "fail-app");
    fs::write(
        p.join("Dockerfile"),
        format!(
            "FROM {}\nRUN echo first > /f\nRUN for i in $(seq 1 30); do echo line $i; done; exit 3\n",
            common::IMAGE
        ),
    )
    .unwrap();
    let msg = fails(&w, &p, &["build"]);
    assert!(msg.contains("Dockerfile:3"), "{msg}");
    assert!(msg.contains("exit code: 3"), "{msg}");
    assert!(msg.contains("line 30"), "{msg}");
    let err = &msg[msg.find("Error:").expect("an error line")..];
    assert!(err.contains("line 11\n"), "the last 20 lines: {err}");
    assert!(!err.contains("line 10\n"), "only the last 20 lines: {err}");
    // The old image under the name is untouched.
    assert_eq!(image_id(&w, &p, "fail-app"), id);
    w.assert_clean();
    assert!(build_leftovers(&w).is_empty());

    // A missing COPY source names the file.
    fs::write(
        p.join("Dockerfile"),
        format!("FROM {}\nCOPY nothere.txt /x\n", common::IMAGE),
    )
    .unwrap();
    let msg = fails(&w, &p, &["build"]);
    assert!(msg.contains("Dockerfile:2"), "{msg}");
    assert!(msg.contains("nothere.txt: not found"), "{msg}");
    assert!(build_leftovers(&w).is_empty());
}
