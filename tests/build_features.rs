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

    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn run_ssh_sockets_are_mounted_for_the_step_only() {
    let w = World::new();
    // An optional mount without an id given runs without a socket (SSH_AUTH_SOCK
    // still names where it would be, as BuildKit sets it); mode, uid and gid
    // reach the socket; a required id not given fails naming the line and id.
    let p = project(
        &w,
        "sshmount",
        "FROM IMAGE\n\
         RUN --mount=type=ssh echo \"sock=$SSH_AUTH_SOCK\" > /optional && \
         test ! -e /run/buildkit/ssh_agent.0 && echo absent >> /optional\n\
         RUN --mount=type=ssh,id=k,required=true true\n\
         RUN --mount=type=ssh,id=k,target=/agent,mode=0660,uid=65534,gid=65534 \
         stat -c '%u:%g:%a:%F' /agent > /sock && echo \"$SSH_AUTH_SOCK\" >> /sock\n\
",
    );
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build-ssh/fake_rsa");
    build(&w, &p, &["--ssh", &format!("k={}", key.display())]);
    let out = w.ok(
        &p,
        &[
            "run",
            "--rm",
            "app",
            "sh",
            "-c",
            "cat /optional /sock; ls -d /agent /run/buildkit 2>&1; true",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "sock=/run/buildkit/ssh_agent.0",
            "absent",
            "65534:65534:660:socket",
            "/agent"
        ],
        "{out}"
    );
    assert!(
        out.contains("/agent: No such file") && out.contains("/run/buildkit: No such file"),
        "{out}"
    );
    let msg = fails(&w, &p, &["build", "--no-cache"]);
    assert!(
        msg.contains("Dockerfile:3") && msg.contains("\"k\""),
        "{msg}"
    );
    // A key file berth cannot use is named before anything is built.
    let msg = fails(&w, &p, &["build", "--ssh", "k=/dev/null"]);
    assert!(msg.contains("ssh k: /dev/null"), "{msg}");
    // So is a key behind a passphrase berth cannot ask for.
    let enc = p.join("enc_key");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "passphrase", "-f"])
        .arg(&enc)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    let msg = fails(&w, &p, &["build", "--ssh", &format!("k={}", enc.display())]);
    assert!(
        msg.contains("enc_key") && msg.contains("encrypted"),
        "{msg}"
    );
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

fn inspect(w: &World, p: &Path, name: &str) -> serde_json::Value {
    let out = w.ok(p, &["image", "inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

#[test]
fn onbuild_triggers_run_in_the_child_only() {
    let w = World::new();
    let p = w.project(
        "onb",
        "services:\n  base:\n    build: base\n    image: onb-base\n  \
         child:\n    build: child\n    image: onb-child\n  \
         grand:\n    build: grand\n    image: onb-grand\n",
    );
    for d in ["base", "child", "grand"] {
        fs::create_dir_all(p.join(d)).unwrap();
    }
    fs::write(
        p.join("base/Dockerfile"),
        format!(
            "FROM {}\nONBUILD RUN echo trigger >> /count\nONBUILD COPY x.txt /x.txt\nRUN echo base > /base\n",
            common::IMAGE
        ),
    )
    .unwrap();
    fs::write(p.join("child/x.txt"), "from the child's context\n").unwrap();
    fs::write(
        p.join("child/Dockerfile"),
        "FROM onb-base\nRUN cat /base /count /x.txt > /all\n",
    )
    .unwrap();
    fs::write(p.join("grand/x.txt"), "never copied\n").unwrap();
    fs::write(
        p.join("grand/Dockerfile"),
        "FROM onb-child\nRUN cat /count > /again\n",
    )
    .unwrap();
    build(&w, &p, &["base"]);
    // The base records its triggers, does not run them.
    let base = inspect(&w, &p, "onb-base");
    assert_eq!(
        base["Config"]["OnBuild"],
        serde_json::json!(["RUN echo trigger >> /count", "COPY x.txt /x.txt"]),
        "{base}"
    );
    let err = build(&w, &p, &["child"]);
    assert!(err.contains("ONBUILD RUN echo trigger"), "{err}");
    let out = w.ok(&p, &["run", "--rm", "child", "cat", "/all"]);
    assert_eq!(out, "base\ntrigger\nfrom the child's context\n");
    // Consumed: not in the child's config, not run again in a grandchild.
    let child = inspect(&w, &p, "onb-child");
    assert!(
        child["Config"]["OnBuild"].is_null() || child["Config"]["OnBuild"] == serde_json::json!([]),
        "{child}"
    );
    build(&w, &p, &["grand"]);
    let out = w.ok(&p, &["run", "--rm", "grand", "cat", "/again", "/x.txt"]);
    assert_eq!(out, "trigger\nfrom the child's context\n");

    // A failing trigger names the child's FROM line.
    fs::write(
        p.join("base/Dockerfile"),
        format!("FROM {}\nONBUILD RUN exit 7\n", common::IMAGE),
    )
    .unwrap();
    build(&w, &p, &["base"]);
    let msg = fails(&w, &p, &["build", "child"]);
    assert!(msg.contains("Dockerfile:1"), "{msg}");
    assert!(msg.contains("exit code: 7"), "{msg}");

    // Chained or FROM triggers are refused where they are written.
    fs::write(
        p.join("base/Dockerfile"),
        format!("FROM {}\nONBUILD ONBUILD RUN true\n", common::IMAGE),
    )
    .unwrap();
    let msg = fails(&w, &p, &["build", "base"]);
    assert!(msg.contains("Dockerfile:2"), "{msg}");
    assert!(msg.contains("ONBUILD ONBUILD"), "{msg}");
    fs::write(
        p.join("base/Dockerfile"),
        format!("FROM {}\nONBUILD FROM busybox\n", common::IMAGE),
    )
    .unwrap();
    let msg = fails(&w, &p, &["build", "base"]);
    assert!(msg.contains("isn't allowed as an ONBUILD trigger"), "{msg}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn platform_is_the_hosts_or_a_clear_error() {
    let w = World::new();
    let host = match std::env::consts::ARCH {
        "x86_64" => "linux/amd64",
        "aarch64" => "linux/arm64",
        other => panic!("untested host {other}"),
    };
    let other = if host == "linux/amd64" {
        "linux/arm64"
    } else {
        "linux/amd64"
    };
    let p = project(
        &w,
        "plat",
        "ARG BASE=IMAGE\nFROM --platform=$BUILDPLATFORM $BASE AS b\nARG TARGETPLATFORM\nARG TARGETARCH\n\
         ARG BUILDOS\nRUN echo \"$TARGETPLATFORM $TARGETARCH $BUILDOS\" > /plat\n\
         FROM --platform=$TARGETPLATFORM b\nRUN echo \"[$TARGETARCH]\" >> /plat\n\
         FROM IMAGE\nCOPY --from=1 /plat /plat\nRUN echo \"[$TARGETARCH]\" >> /plat\n",
    );
    build(&w, &p, &["--platform", host]);
    let out = w.ok(&p, &["run", "--rm", "app", "cat", "/plat"]);
    let arch = host.split('/').nth(1).unwrap();
    assert_eq!(out, format!("{host} {arch} linux\n[{arch}]\n[]\n"));

    let msg = fails(&w, &p, &["build", "--platform", other]);
    assert!(
        msg.contains(&format!("platform {other} is not supported")),
        "{msg}"
    );
    assert!(msg.contains(host), "{msg}");

    fs::write(
        p.join("Dockerfile"),
        format!(
            "FROM {}\nRUN true\nFROM --platform={other} {}\n",
            common::IMAGE,
            common::IMAGE
        ),
    )
    .unwrap();
    let msg = fails(&w, &p, &["build"]);
    assert!(msg.contains("Dockerfile:3"), "{msg}");
    assert!(msg.contains("is not supported"), "{msg}");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn an_image_of_sixty_layers_builds_runs_and_starts() {
    let w = World::new();
    let p = w.project(
        "deep",
        "services:\n  app:\n    build: .\n    command: [\"sh\", \"-c\", \"ls /l | wc -l > /count; sleep 1000\"]\n",
    );
    // 60 COPY layers (each its own file), then RUN and COPY over all of them: the
    // overlay's lowerdir list is far longer than mount(2)'s one page of options.
    let mut df = format!("FROM {}\n", common::IMAGE);
    for i in 0..60 {
        fs::write(p.join(format!("f{i:02}")), format!("{i}\n")).unwrap();
        df.push_str(&format!("COPY f{i:02} /l/\n"));
    }
    df.push_str("RUN ls /l | wc -l > /n && cat /l/f00 /l/f59 >> /n\nCOPY f00 /last\n");
    fs::write(p.join("Dockerfile"), df).unwrap();
    build(&w, &p, &[]);
    let v = inspect(&w, &p, "deep-app");
    let layers = v["RootFS"]["Layers"].as_array().map(Vec::len).unwrap_or(0);
    assert!(layers > 60, "{layers} layers: {v}");
    let out = w.ok(&p, &["run", "--rm", "app", "cat", "/n", "/last"]);
    assert_eq!(out, "60\n0\n59\n0\n");
    w.ok(&p, &["up", "-d"]);
    let out = w.ok(&p, &["exec", "app", "cat", "/l/f42"]);
    assert_eq!(out, "42\n");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn a_terminal_gets_the_collapsing_view() {
    use common::pty;
    let w = World::new();
    let p = project(
        &w,
        "tty",
        "FROM IMAGE\nWORKDIR /app\nRUN for i in 1 2 3 4 5 6 7 8; do echo out-line-$i; done; sleep 1; echo last-line\nCMD [\"true\"]\n",
    );
    let (mut child, mut master) = pty::berth_on_pty(&w, &p, &["build", "--progress", "tty"]);
    let mut seen = String::new();
    let status = pty::wait_draining(&mut child, &mut master, &mut seen);
    // What berth wrote just before it exited.
    pty::try_read_until(
        &mut master,
        &mut seen,
        "\0",
        std::time::Duration::from_millis(300),
    );
    assert!(status.success(), "{seen}");
    assert!(seen.contains("[+] Building"), "{seen}");
    assert!(seen.contains(" => [app 3/4] RUN for i in"), "{seen}");
    // The running step's output shows under it while it runs.
    assert!(seen.contains(" => => # out-line-8"), "{seen}");
    // Redrawn in place (cursor up / erase line), not a log of #N lines.
    assert!(
        seen.contains("\x1b[1A") || seen.contains("\x1b[2K"),
        "{seen:?}"
    );
    assert!(!seen.contains("#3 DONE"), "{seen}");
    assert!(seen.contains("FINISHED"), "{seen}");
    assert!(seen.contains("-app Built"), "{seen}");

    // A rebuild shows the hits.
    let (mut child, mut master) = pty::berth_on_pty(&w, &p, &["build", "--progress", "tty"]);
    let mut seen = String::new();
    let status = pty::wait_draining(&mut child, &mut master, &mut seen);
    // What berth wrote just before it exited.
    pty::try_read_until(
        &mut master,
        &mut seen,
        "\0",
        std::time::Duration::from_millis(300),
    );
    assert!(status.success(), "{seen}");
    assert!(seen.contains(" => CACHED [app 3/4] RUN for i in"), "{seen}");
    w.assert_clean();
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

fn cached(steps: &[(String, bool)], needle: &str) -> bool {
    steps
        .iter()
        .find(|(n, _)| n.contains(needle))
        .unwrap_or_else(|| panic!("no step {needle} in {steps:?}"))
        .1
}

#[test]
fn copy_link_is_a_layer_independent_of_its_parent() {
    let w = World::new();
    let p = project(
        &w,
        "link",
        "FROM IMAGE\nARG V=one\nRUN echo $V > /v && echo linker:x:1234:1234::/:/bin/sh >> /etc/passwd\n\
         COPY --link --chown=linker a.txt /app/a.txt\nCOPY b.txt /app/b.txt\n\
         CMD [\"sh\", \"-c\", \"cat /v /app/a.txt /app/b.txt; stat -c %u /app/a.txt\"]\n",
    );
    fs::write(p.join("a.txt"), "a\n").unwrap();
    fs::write(p.join("b.txt"), "b\n").unwrap();
    build(&w, &p, &[]);
    assert_eq!(w.ok(&p, &["run", "--rm", "app"]), "one\na\nb\n1234\n");
    // The parent changes: RUN reruns, the linked COPY is still a hit (its layer
    // rebased on the new parent), the plain COPY after it is not.
    let s = steps(&build(&w, &p, &["--build-arg", "V=two"]));
    assert!(!cached(&s, "RUN echo $V"), "{s:?}");
    assert!(cached(&s, "COPY --link"), "{s:?}");
    assert!(!cached(&s, "COPY b.txt"), "{s:?}");
    assert_eq!(w.ok(&p, &["run", "--rm", "app"]), "two\na\nb\n1234\n");
    // Its content still counts.
    fs::write(p.join("a.txt"), "A\n").unwrap();
    let s = steps(&build(&w, &p, &["--build-arg", "V=two"]));
    assert!(!cached(&s, "COPY --link"), "{s:?}");
    assert_eq!(w.ok(&p, &["run", "--rm", "app"]), "two\nA\nb\n1234\n");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
}

#[test]
fn ctrl_c_keeps_the_old_image_and_leaves_nothing() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let w = World::new();
    let p = project(&w, "intr", "FROM IMAGE\nRUN echo v1 > /v\n");
    build(&w, &p, &[]);
    let id = inspect(&w, &p, "intr-app")["Id"].clone();
    let secret = p.parent().unwrap().join("intr-secret");
    fs::write(&secret, "intr-secret-value").unwrap();
    fs::write(
        p.join("Dockerfile"),
        format!(
            "FROM {}\nRUN echo v2 > /v\nRUN --mount=type=secret,id=s --mount=type=cache,target=/c \
             --mount=type=ssh,id=k echo started && sleep 7373\n",
            common::IMAGE
        ),
    )
    .unwrap();
    let src = format!("id=s,src={}", secret.display());
    // The step's ssh agent socket goes with its scratch dir, checked below.
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build-ssh/fake_rsa");
    let ssh = format!("k={}", key.display());
    let mut child = w
        .berth_command(&p, &["build", "--secret", &src, "--ssh", &ssh])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = vec![];
    for l in lines.by_ref() {
        let l = l.unwrap();
        let started = l.ends_with(" started");
        seen.push(l);
        if started {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.ends_with(" started")), "{seen:?}");
    // SAFETY: kill of the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(!child.wait().unwrap().success());
    assert!(rest.iter().any(|l| l.contains("CANCELED")), "{rest:?}");
    // The old image keeps the name; no step container, mount, process, temp dir.
    assert_eq!(inspect(&w, &p, "intr-app")["Id"], id);
    assert_eq!(w.ok(&p, &["run", "--rm", "app", "cat", "/v"]), "v1\n");
    w.ok(&p, &["down", "-t", "0"]);
    w.assert_clean();
    let sleepers = std::process::Command::new("pgrep")
        .args(["-f", "sleep 7373"])
        .output()
        .unwrap();
    assert!(sleepers.stdout.is_empty(), "the RUN's process survived");
    let tmp: Vec<_> = fs::read_dir(w.root().join("build/tmp"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "{tmp:?}");
    for base in [
        "/sys/fs/cgroup/memory/berth",
        "/sys/fs/cgroup/unified/berth",
        "/sys/fs/cgroup/berth",
    ] {
        let left: Vec<String> = fs::read_dir(base)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&format!("build-{}-", child.id())))
                    .collect()
            })
            .unwrap_or_default();
        assert!(left.is_empty(), "{base}: {left:?}");
    }
    assert!(any_file_contains(&w.root(), b"intr-secret-value").is_none());
}
