//! `berth build`'s newer Dockerfile features: RUN secrets, ONBUILD triggers,
//! `--platform`, `COPY --link`, images of many layers.

mod common;

use common::{fails, World};
use std::fs;
use std::path::Path;

fn project(w: &World, name: &str, dockerfile: &str) -> std::path::PathBuf {
    let p = w.project(name, "services:\n  app:\n    build: .\n");
    fs::write(
        p.join("Dockerfile"),
        dockerfile.replace("IMAGE", common::IMAGE),
    )
    .unwrap();
    p
}

fn build(w: &World, p: &Path, args: &[&str]) -> String {
    let mut a = vec!["build"];
    a.extend_from_slice(args);
    let out = w.berth_in(p, &a);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build failed:\n{err}");
    err
}

/// Whether any file under `dir` contains `needle`.
fn any_file_contains(dir: &Path, needle: &[u8]) -> Option<std::path::PathBuf> {
    let rd = fs::read_dir(dir).ok()?;
    for e in rd.flatten() {
        let ft = e.file_type().ok()?;
        let path = e.path();
        if ft.is_dir() {
            if let Some(p) = any_file_contains(&path, needle) {
                return Some(p);
            }
        } else if ft.is_file() {
            if let Ok(b) = fs::read(&path) {
                if b.windows(needle.len()).any(|w| w == needle) {
                    return Some(path);
                }
            }
        }
    }
    None
}

#[test]
fn run_secrets_are_mounted_for_the_step_only() {
    let w = World::new();
    let p = project(
        &w,
        "secret",
        "FROM IMAGE\n\
         RUN --mount=type=secret,id=tok,required wc -c < /run/secrets/tok > /len && \
         stat -c %a /run/secrets/tok > /mode\n\
         RUN --mount=type=secret,id=tok,env=TOK,target=/tmp/t,uid=65534,mode=0440 \
         echo ${#TOK} > /envlen && stat -c %u:%a /tmp/t > /own\n\
         RUN --mount=type=secret,id=absent ls /run/secrets/ > /absent 2>&1 || true\n",
    );
    let secret_file = p.parent().unwrap().join("tok.txt");
    let value = "berth-top-secret-value-0123456789";
    fs::write(&secret_file, value).unwrap();
    let src = format!("id=tok,src={}", secret_file.display());
    build(&w, &p, &["--secret", &src]);
    let out = w.ok(
        &p,
        &[
            "run",
            "--rm",
            "app",
            "sh",
            "-c",
            "cat /len /mode /envlen /own; cat /absent; ls /run/secrets /tmp/t 2>&1; true",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].trim(), value.len().to_string(), "{out}");
    assert_eq!(lines[1], "400", "{out}");
    assert_eq!(lines[2], value.len().to_string(), "{out}");
    assert_eq!(lines[3], "65534:440", "{out}");
    // Not in the image, not anywhere in berth's state (layers, cache, config).
    assert!(!out.contains("tok\n"), "{out}");
    assert!(
        any_file_contains(&w.root(), value.as_bytes()).is_none(),
        "the secret leaked into {:?}",
        any_file_contains(&w.root(), value.as_bytes())
    );

    // A changed secret does not bust the cache (BuildKit's rule).
    fs::write(&secret_file, "another value").unwrap();
    let err = build(&w, &p, &["--secret", &src]);
    assert!(
        !err.contains("DONE") || err.matches("CACHED").count() >= 3,
        "{err}"
    );

    // A required secret missing is a clear error naming the line.
    let msg = fails(&w, &p, &["build", "--no-cache"]);
    assert!(msg.contains("Dockerfile:2"), "{msg}");
    assert!(msg.contains("secret tok not found"), "{msg}");

    // ssh is refused clearly.
    fs::write(
        p.join("Dockerfile"),
        format!("FROM {}\nRUN --mount=type=ssh true\n", common::IMAGE),
    )
    .unwrap();
    let msg = fails(&w, &p, &["build"]);
    assert!(msg.contains("Dockerfile:2"), "{msg}");
    assert!(msg.contains("type=ssh is not supported"), "{msg}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}
