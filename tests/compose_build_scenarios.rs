//! docker compose's build scenarios, run against berth with the busybox test
//! image: `build`, `up --build`/`--no-build`, `run --build`, `service:` contexts,
//! tags, secrets, pull_policy, `push`, and the refresh loop
//! `rm -f && pull && build --no-cache && up -d --force-recreate`.
//!
//! Each test is named after the docker/compose e2e test it ports
//! (docker/compose@f729794 pkg/e2e/build_test.go, compose_run_build_once_test.go,
//! Apache-2.0); `alpine`/`nginx` become the busybox test image.

mod common;
mod image_support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{by_name, World, IMAGE};

/// Runs berth, asserting success; returns (stdout, stderr).
fn ok2(w: &World, p: &Path, args: &[&str]) -> (String, String) {
    ok_env(w, p, args, &[])
}

fn ok_env(w: &World, p: &Path, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let out = w.berth_env(p, args, env);
    let so = String::from_utf8_lossy(&out.stdout).into_owned();
    let se = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "berth {args:?} failed:\n{so}\n{se}");
    (so, se)
}

/// Runs berth, asserting failure; returns stderr.
fn fails(w: &World, p: &Path, args: &[&str]) -> String {
    let out = w.berth_in(p, args);
    let se = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "berth {args:?} succeeded:\n{se}");
    se
}

fn image_id(w: &World, p: &Path, name: &str) -> Option<String> {
    let out = w.berth_in(p, &["image", "inspect", name]);
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["Id"].as_str().map(String::from)
}

fn labels(w: &World, p: &Path, name: &str) -> serde_json::Value {
    let out = w.ok(p, &["image", "inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["Config"]["Labels"].clone()
}

/// `name → ID` of the project's containers.
fn ids(w: &World, p: &Path) -> BTreeMap<String, String> {
    by_name(w, p)
        .into_iter()
        .map(|(n, c)| (n, c["ID"].as_str().unwrap().to_string()))
        .collect()
}

/// How many times the build of `image` was reported done.
fn built_count(stderr: &str, image: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.trim() == format!("Image {image} Built"))
        .count()
}

/// TestLocalComposeBuild: build, labels from --build-arg (given and from the
/// environment), up builds what is missing only, up --build rebuilds, --quiet
/// prints nothing, --push of a service without image: is no failure.
#[test]
fn local_compose_build() {
    let w = World::new();
    let p = w.project(
        "build-test",
        "services:\n  nginx:\n    build: nginx-build\n    command: sleep 300\n  nginx2:\n    build: nginx-build2\n    image: custom-nginx\n    command: sleep 300\n",
    );
    for d in ["nginx-build", "nginx-build2"] {
        fs::create_dir_all(p.join(d).join("static")).unwrap();
        fs::write(p.join(d).join("static/index.html"), "hello\n").unwrap();
        fs::write(
            p.join(d).join("Dockerfile"),
            format!("FROM {IMAGE}\nARG FOO\nLABEL FOO=$FOO\nCOPY static /usr/share/nginx/html\n"),
        )
        .unwrap();
    }
    let (_, err) = ok2(&w, &p, &["build"]);
    assert!(err.contains("COPY static /usr/share/nginx/html"), "{err}");
    assert!(image_id(&w, &p, "build-test-nginx").is_some());
    assert!(image_id(&w, &p, "custom-nginx").is_some());

    ok2(&w, &p, &["build", "--build-arg", "FOO=BAR"]);
    assert_eq!(labels(&w, &p, "custom-nginx")["FOO"], "BAR");
    ok_env(
        &w,
        &p,
        &["build", "--build-arg", "FOO"],
        &[("FOO", "FROMENV")],
    );
    assert_eq!(labels(&w, &p, "build-test-nginx")["FOO"], "FROMENV");

    // up builds only what is missing.
    fs::write(
        p.join("compose.yaml"),
        "services:\n  nginx:\n    build: nginx-build\n    command: sleep 300\n  nginx2:\n    build: nginx-build2\n    image: custom-nginx\n    command: sleep 300\n  nginx3:\n    build: nginx-build\n    image: third-nginx\n    pull_policy: never\n    command: sleep 300\n",
    )
    .unwrap();
    let (_, err) = ok2(&w, &p, &["up", "-d", "-t", "0"]);
    assert_eq!(built_count(&err, "third-nginx"), 1, "{err}");
    assert_eq!(built_count(&err, "custom-nginx"), 0, "{err}");
    let (_, err) = ok2(&w, &p, &["up", "-d"]);
    assert!(!err.contains("Building"), "{err}");
    let (_, err) = ok2(&w, &p, &["up", "-d", "--build"]);
    assert_eq!(built_count(&err, "build-test-nginx"), 1, "{err}");
    assert_eq!(built_count(&err, "custom-nginx"), 1, "{err}");

    let (out, err) = ok2(&w, &p, &["build", "--quiet"]);
    assert_eq!(out, "");
    assert_eq!(err, "");
    // nginx has no image: nothing to push, no failure.
    ok2(&w, &p, &["build", "--push", "nginx"]);

    // images and config --images name the built images; down --rmi local removes
    // the ones without a custom name.
    let (imgs, _) = ok2(&w, &p, &["config", "--images"]);
    assert!(imgs.lines().any(|l| l == "build-test-nginx"), "{imgs}");
    let (imgs, _) = ok2(&w, &p, &["images"]);
    assert!(imgs.contains("build-test-nginx"), "{imgs}");
    ok2(&w, &p, &["down", "-t", "0", "--rmi", "local"]);
    assert!(image_id(&w, &p, "build-test-nginx").is_none());
    assert!(image_id(&w, &p, "custom-nginx").is_some());
    w.assert_clean();
}

/// TestLocalComposeBuild (multi-args): global ARGs in FROM and a label.
#[test]
fn local_compose_build_multi_args() {
    let w = World::new();
    let p = w.project(
        "multi-args",
        "services:\n  multiargs:\n    build:\n      context: .\n      args:\n        BASE: localhost/busybox\n        TAG: test\n",
    );
    fs::write(
        p.join("Dockerfile"),
        "ARG BASE=nope\nARG TAG=nope\nFROM ${BASE}:${TAG}\nLABEL RESULT=SUCCESS\n",
    )
    .unwrap();
    ok2(&w, &p, &["build"]);
    assert_eq!(labels(&w, &p, "multi-args-multiargs")["RESULT"], "SUCCESS");
}

/// TestBuildTags: every tag is applied.
#[test]
fn build_tags() {
    let w = World::new();
    let p = w.project(
        "build-tags",
        "services:\n  nginx:\n    image: build-test-tags\n    build:\n      context: .\n      tags:\n        - docker.io/docker/build-test-tags:1.0.0\n        - other-image-name:v1.0.0\n",
    );
    fs::write(p.join("Dockerfile"), format!("FROM {IMAGE}\n")).unwrap();
    ok2(&w, &p, &["build"]);
    let id = image_id(&w, &p, "build-test-tags:latest").unwrap();
    assert_eq!(
        image_id(&w, &p, "docker/build-test-tags:1.0.0").unwrap(),
        id
    );
    assert_eq!(image_id(&w, &p, "other-image-name:v1.0.0").unwrap(), id);
}

/// TestBuildSecrets: a file secret, an environment secret whose id is its
/// target, and one from .env, readable by RUN --mount=type=secret.
#[test]
fn build_secrets() {
    let w = World::new();
    let p = w.project(
        "build-secrets",
        "services:\n  ssh:\n    build:\n      context: .\n      secrets:\n        - mysecret\n        - source: envsecret\n          target: build_secret\n        - dotenvsecret\nsecrets:\n  mysecret:\n    file: ./secret.txt\n  envsecret:\n    environment: SOME_SECRET\n  dotenvsecret:\n    environment: ANOTHER_SECRET\n",
    );
    fs::write(p.join("secret.txt"), "from-file").unwrap();
    fs::write(p.join(".env"), "ANOTHER_SECRET=from-dotenv\n").unwrap();
    fs::write(
        p.join("Dockerfile"),
        format!(
            "FROM {IMAGE}\nRUN --mount=type=secret,id=mysecret test \"$(cat /run/secrets/mysecret)\" = from-file\nRUN --mount=type=secret,id=build_secret test \"$(cat /run/secrets/build_secret)\" = from-env\nRUN --mount=type=secret,id=dotenvsecret test \"$(cat /run/secrets/dotenvsecret)\" = from-dotenv\n"
        ),
    )
    .unwrap();
    ok_env(&w, &p, &["build"], &[("SOME_SECRET", "from-env")]);
}

/// TestBuildEscaped: `$$` in the model reaches the build literally.
#[test]
fn build_escaped() {
    let w = World::new();
    let p = w.project(
        "build-escaped",
        "services:\n  foo:\n    build:\n      context: .\n      args:\n        foo: $${bar}\n  echo:\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN <<'EOF'\n        echo $(seq 10)\n        EOF\n  arg:\n    build:\n      args:\n        BOOL: \"true\"\n      dockerfile_inline: |\n        FROM IMAGE\n        ARG BOOL\n        RUN /bin/$${BOOL}\n",
    );
    fs::write(
        p.join("Dockerfile"),
        format!("FROM {IMAGE}\nARG foo\nRUN echo foo is $foo\n"),
    )
    .unwrap();
    let (_, err) = ok2(&w, &p, &["build", "foo"]);
    assert!(err.contains("foo is ${bar}"), "{err}");
    ok2(&w, &p, &["build", "echo", "arg"]);
}

fn chain_project(w: &World) -> std::path::PathBuf {
    w.project(
        "subdeps",
        "services:\n  main:\n    build:\n      dockerfile_inline: |\n        FROM dep1\n        COPY --from=dep2 /dep2 /dep2\n      additional_contexts:\n        dep1: service:dep1\n        dep2: service:dep2\n    command: cat /subdep1 /subdep2 /dep1 /dep2\n  dep1:\n    build:\n      dockerfile_inline: |\n        FROM subdep1\n        COPY --from=subdep2 /subdep2 /subdep2\n        RUN echo dep1 > /dep1\n      additional_contexts:\n        subdep1: service:subdep1\n        subdep2: service:subdep2\n  dep2:\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN echo dep2 > /dep2\n  subdep1:\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN echo subdep1 > /subdep1\n  subdep2:\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN echo subdep2 > /subdep2\n",
    )
}

/// TestBuildSubDependencies: a chain of service: contexts resolves
/// transitively, for build and up --build alike.
#[test]
fn build_sub_dependencies() {
    let w = World::new();
    let p = chain_project(&w);
    let (_, err) = ok2(&w, &p, &["build", "main"]);
    for s in ["main", "dep1", "dep2", "subdep1", "subdep2"] {
        assert!(err.contains(&format!("{s} Built")), "{s}: {err}");
    }
    // Dependencies before their dependants.
    let pos = |s: &str| err.find(&format!("{s} Built")).unwrap();
    assert!(
        pos("subdep1") < pos("dep1") && pos("dep1") < pos("main"),
        "{err}"
    );
    let (out, _) = ok2(&w, &p, &["run", "--rm", "main"]);
    assert_eq!(out, "subdep1\nsubdep2\ndep1\ndep2\n");
    // up --build resolves the same chain, each image once.
    let (_, err) = ok2(&w, &p, &["up", "-d", "--build", "main"]);
    for s in ["main", "dep1", "dep2", "subdep1", "subdep2"] {
        assert_eq!(built_count(&err, &format!("subdeps-{s}")), 1, "{s}: {err}");
    }
    ok2(&w, &p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// TestBuildSubset: build scoped to a service builds that service only.
#[test]
fn build_subset() {
    let w = World::new();
    let p = w.project(
        "subset",
        "services:\n  main:\n    build:\n      dockerfile_inline: FROM IMAGE\n    depends_on: [dep1]\n  dep1:\n    build:\n      dockerfile_inline: FROM IMAGE\n",
    );
    let (_, err) = ok2(&w, &p, &["build", "main"]);
    assert!(err.contains("-main Built"), "{err}");
    assert!(!err.contains("dep1 Built"), "{err}");
    // --with-dependencies adds depends_on.
    let (_, err) = ok2(&w, &p, &["build", "--with-dependencies", "main"]);
    assert!(err.contains("-dep1 Built"), "{err}");
}

/// TestBuildDependentImage: services using another service's image as a
/// context build it on demand, once.
#[test]
fn build_dependent_image() {
    let w = World::new();
    let p = w.project(
        "dependent",
        "services:\n  firstbuild:\n    build:\n      dockerfile_inline: FROM dep1\n      additional_contexts:\n        dep1: service:dep1\n    depends_on: [dep1]\n  secondbuild:\n    build:\n      dockerfile_inline: FROM dep1\n      additional_contexts:\n        dep1: service:dep1\n    depends_on: [dep1]\n  dep1:\n    build:\n      dockerfile_inline: FROM IMAGE\n",
    );
    let (_, err) = ok2(&w, &p, &["build", "firstbuild"]);
    assert!(err.contains("-firstbuild Built"), "{err}");
    let (_, err) = ok2(&w, &p, &["build", "secondbuild"]);
    assert!(err.contains("-secondbuild Built"), "{err}");
}

/// TestBuildImageDependencies: `image: base` with depends_on (the classic form)
/// and `service:base` both build the base first; down --rmi all removes them.
#[test]
fn build_image_dependencies() {
    let w = World::new();
    let p = w.project(
        "build-dependencies",
        "services:\n  base:\n    image: base\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN echo base > /base\n  service:\n    build:\n      dockerfile_inline: FROM base\n      additional_contexts:\n        base: service:base\n    command: cat /base\n",
    );
    ok2(&w, &p, &["build", "service"]);
    assert!(image_id(&w, &p, "build-dependencies-service:latest").is_some());
    let (out, _) = ok2(&w, &p, &["run", "--rm", "service"]);
    assert_eq!(out, "base\n");
    ok2(&w, &p, &["up", "-d", "--build", "service"]);
    ok2(&w, &p, &["down", "-t", "0", "--rmi", "all"]);
    assert!(image_id(&w, &p, "build-dependencies-service").is_none());
    assert!(image_id(&w, &p, "base").is_none());
    w.assert_clean();
}

/// TestBuildImageDependencies (classic.yaml): `image: base` and depends_on; the
/// dependant's Dockerfile uses the base by name, so it is built after it.
#[test]
fn build_image_dependencies_classic() {
    let w = World::new();
    let p = w.project(
        "classic",
        "services:\n  base:\n    image: base\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN echo base > /base\n  service:\n    depends_on: [base]\n    build:\n      dockerfile_inline: FROM base\n    command: cat /base\n",
    );
    ok2(&w, &p, &["build", "--with-dependencies", "service"]);
    let (out, _) = ok2(&w, &p, &["run", "--rm", "--no-deps", "service"]);
    assert_eq!(out, "base\n");
    ok2(&w, &p, &["down", "-t", "0", "--rmi", "all"]);
    w.assert_clean();
}

/// TestBuildDependsOn: up of a service builds its pull_policy: build dependency.
#[test]
fn build_depends_on() {
    let w = World::new();
    let p = w.project(
        "dependson",
        "services:\n  test1:\n    pull_policy: build\n    build:\n      dockerfile_inline: FROM IMAGE\n    command: sleep 300\n  test2:\n    image: IMAGE\n    command: sleep 300\n    depends_on: [test1]\n",
    );
    let (_, err) = ok2(&w, &p, &["up", "-d", "-t", "0", "test2"]);
    assert_eq!(built_count(&err, "dependson-test1"), 1, "{err}");
    ok2(&w, &p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// TestUpBuildUnchangedContext: a second `up -d --build` with nothing changed
/// gets the same image and recreates nothing; a changed file recreates exactly
/// the service whose image changed, and `plan` says "image rebuilt".
#[test]
fn up_build_unchanged_context() {
    let w = World::new();
    let p = w.project(
        "unchanged",
        "services:\n  a:\n    build: a\n    command: sleep 300\n  b:\n    build: b\n    command: sleep 300\n",
    );
    for d in ["a", "b"] {
        fs::create_dir_all(p.join(d)).unwrap();
        fs::write(p.join(d).join("f.txt"), d).unwrap();
        fs::write(
            p.join(d).join("Dockerfile"),
            format!("FROM {IMAGE}\nCOPY f.txt /f.txt\nRUN cat /f.txt\n"),
        )
        .unwrap();
    }
    ok2(&w, &p, &["up", "-d", "-t", "0", "--build"]);
    let first = ids(&w, &p);
    let img = image_id(&w, &p, "unchanged-a").unwrap();
    let (_, err) = ok2(&w, &p, &["up", "-d", "--build"]);
    assert_eq!(image_id(&w, &p, "unchanged-a").unwrap(), img);
    assert_eq!(ids(&w, &p), first, "{err}");
    assert!(!err.contains("Recreate"), "{err}");

    fs::write(p.join("a").join("f.txt"), "changed").unwrap();
    ok2(&w, &p, &["build"]);
    let (plan, _) = ok2(&w, &p, &["plan"]);
    assert!(plan.contains("image rebuilt"), "{plan}");
    ok2(&w, &p, &["up", "-d", "-t", "0"]);
    let after = ids(&w, &p);
    assert_ne!(after["unchanged-a-1"], first["unchanged-a-1"]);
    assert_eq!(after["unchanged-b-1"], first["unchanged-b-1"]);
    ok2(&w, &p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// TestUpWithBuildDependencies: one image used by two services is built once,
/// before both start.
#[test]
fn up_with_build_dependencies() {
    let w = World::new();
    let p = w.project(
        "shared",
        "services:\n  one:\n    image: shared-img\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN echo shared > /marker\n    command: sleep 300\n  two:\n    image: shared-img\n    pull_policy: never\n    command: sleep 300\n    depends_on: [one]\n",
    );
    let (_, err) = ok2(&w, &p, &["up", "-d", "-t", "0", "--build"]);
    assert_eq!(built_count(&err, "shared-img"), 1, "{err}");
    let (out, _) = ok2(&w, &p, &["exec", "-T", "two", "cat", "/marker"]);
    assert_eq!(out, "shared\n");
    ok2(&w, &p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// TestRunBuildOnceDependency / NestedDependencies / NoDeps: `run --build`
/// builds each image exactly once.
#[test]
fn run_build_once() {
    let w = World::new();
    let p = w.project(
        "buildonce",
        "services:\n  db:\n    pull_policy: build\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN date > /db-build.txt\n        CMD sleep 300\n  api:\n    pull_policy: build\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN date > /api-build.txt\n        CMD sleep 300\n    depends_on: [db]\n  app:\n    pull_policy: build\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN date > /app-build.txt\n        CMD echo App running\n    depends_on: [api]\n",
    );
    let (out, err) = ok2(&w, &p, &["run", "--build", "--rm", "-T", "app"]);
    assert!(out.contains("App running"), "{out}");
    for s in ["db", "api", "app"] {
        assert_eq!(
            built_count(&err, &format!("buildonce-{s}")),
            1,
            "{s}: {err}"
        );
    }
    let (_, err) = ok2(
        &w,
        &p,
        &["run", "--build", "--rm", "--no-deps", "-T", "app"],
    );
    assert_eq!(built_count(&err, "buildonce-app"), 1, "{err}");
    assert_eq!(built_count(&err, "buildonce-db"), 0, "{err}");
    ok2(&w, &p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// image: + build: pulls first and builds only when the pull fails (with a
/// warning); --no-build never builds; platforms other than the host's and git
/// contexts are clear errors; cache_from is accepted with a warning.
#[test]
fn pull_policy_and_build_errors() {
    let w = World::new();
    let port = common::free_port();
    let p = w.project(
        "policy",
        &format!("services:\n  app:\n    image: 127.0.0.1:{port}/nowhere/app:1\n    build:\n      dockerfile_inline: FROM IMAGE\n      cache_from: [type=registry,ref=x]\n    command: sleep 300\n"),
    );
    fails(&w, &p, &["up", "-d", "--no-build"]);
    let (_, err) = ok2(&w, &p, &["up", "-d", "-t", "0"]);
    assert!(err.contains("must be built from source"), "{err}");
    assert!(err.contains("cache_from"), "{err}");
    assert!(
        err.contains(&format!("Image 127.0.0.1:{port}/nowhere/app:1 Built")),
        "{err}"
    );
    // pull on a buildable image that cannot be pulled is a warning.
    let (_, err) = ok2(&w, &p, &["pull"]);
    assert!(err.contains("must be built from source"), "{err}");
    ok2(&w, &p, &["down", "-t", "0"]);

    let q = w.project(
        "bad",
        "services:\n  plat:\n    build:\n      dockerfile_inline: FROM IMAGE\n      platforms: [linux/s390x]\n  git:\n    build: https://github.com/docker/compose.git\n",
    );
    let err = fails(&w, &q, &["build", "plat"]);
    assert!(err.contains("services.plat.build.platforms"), "{err}");
    let err = fails(&w, &q, &["build", "git"]);
    assert!(
        err.contains("services.git.build.context") && err.contains("offline"),
        "{err}"
    );
    w.assert_clean();
}

/// The build: keys that shape RUN steps reach them: network none, extra_hosts,
/// shm_size, ulimits, privileged; additional_contexts as a directory and as
/// docker-image://.
#[test]
fn build_keys_reach_run_steps() {
    let w = World::new();
    let p = w.project(
        "keys",
        "services:\n  app:\n    build:\n      context: .\n      network: none\n      extra_hosts: ['db.internal=10.9.8.7']\n      shm_size: 32m\n      ulimits:\n        nofile: {soft: 1234, hard: 2345}\n      privileged: true\n      additional_contexts:\n        extra: ./extra\n        base: docker-image://IMAGE\n    command: cat /out\n",
    );
    fs::create_dir_all(p.join("extra")).unwrap();
    fs::write(p.join("extra/hello.txt"), "from extra\n").unwrap();
    fs::write(
        p.join("Dockerfile"),
        "FROM base\nCOPY --from=extra hello.txt /hello.txt\nRUN (grep db.internal /etc/hosts; df -k /dev/shm | tail -1 | awk '{print $2}'; ulimit -n; grep CapEff /proc/self/status; cat /hello.txt) > /out\n",
    )
    .unwrap();
    ok2(&w, &p, &["build"]);
    let (out, _) = ok2(&w, &p, &["run", "--rm", "app"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "10.9.8.7\tdb.internal", "{out}");
    assert_eq!(lines[1], "32768", "{out}");
    assert_eq!(lines[2], "1234", "{out}");
    // privileged: every capability (docker's default set is 00000000a80425fb).
    assert!(
        lines[3].contains("ffffff") && !lines[3].contains("a80425fb"),
        "{out}"
    );
    assert_eq!(lines.last().unwrap(), &"from extra", "{out}");
    // --print shows the bake targets without building.
    let (json, _) = ok2(&w, &p, &["build", "--print"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["target"]["app"]["network"], "none");
    ok2(&w, &p, &["down"]);
    w.assert_clean();
}

/// The refresh loop: every step works and says what it did; the container runs
/// the freshly built image.
#[test]
fn refresh_loop() {
    let w = World::new();
    let p = w.project(
        "refresh",
        "services:\n  web:\n    build: .\n    command: sleep 300\n  cache:\n    image: IMAGE\n    pull_policy: never\n    command: sleep 300\n",
    );
    fs::write(p.join("v.txt"), "one").unwrap();
    fs::write(
        p.join("Dockerfile"),
        format!("FROM {IMAGE}\nCOPY v.txt /v.txt\n"),
    )
    .unwrap();
    ok2(&w, &p, &["up", "-d", "-t", "0"]);
    fs::write(p.join("v.txt"), "two").unwrap();
    // rm -f removes stopped containers only (none here), and says so.
    let (out, err) = ok2(&w, &p, &["rm", "-f"]);
    assert!(!(out.trim().is_empty() && err.trim().is_empty()));
    let (_, err) = ok2(&w, &p, &["pull"]);
    assert!(err.contains("Service web Skipped"), "{err}");
    let (_, err) = ok2(&w, &p, &["build", "--no-cache"]);
    assert!(err.contains("-web Built"), "{err}");
    assert!(!err.contains("CACHED"), "{err}");
    let (_, err) = ok2(&w, &p, &["up", "-d", "--force-recreate", "-t", "0"]);
    assert!(err.contains("Started"), "{err}");
    let (out, _) = ok2(&w, &p, &["exec", "-T", "web", "cat", "/v.txt"]);
    assert_eq!(out, "two");
    ok2(&w, &p, &["down", "-t", "0"]);
    w.assert_clean();
}

/// `push` sends a built service's image (and its build tags) to a registry (a
/// real docker-registry on loopback); another root pulls it back.
#[test]
fn push_built_service() {
    let reg = image_support::Registry::start(false);
    let w = World::new();
    let host = reg.host();
    let p = w.project(
        "push",
        &format!("services:\n  app:\n    image: {host}/berth/app:1\n    build:\n      dockerfile_inline: |\n        FROM IMAGE\n        RUN echo pushed > /marker\n      tags: ['{host}/berth/app:extra']\n  plain:\n    image: IMAGE\n"),
    );
    // Not built yet: a clear error, unless failures are ignored.
    let err = fails(&w, &p, &["push"]);
    assert!(err.contains("build it first"), "{err}");
    ok2(&w, &p, &["push", "--ignore-push-failures"]);
    ok2(&w, &p, &["build"]);
    let (_, err) = ok2(&w, &p, &["push"]);
    assert!(
        err.contains(&format!("Image {host}/berth/app:1 Pushed")),
        "{err}"
    );
    assert!(
        err.contains(&format!("Image {host}/berth/app:extra Pushed")),
        "{err}"
    );
    // build --push pushes again after building.
    ok2(&w, &p, &["build", "--push"]);
    let w2 = World::new();
    let q = w2.project(
        "pulled",
        &format!("services:\n  app:\n    image: {host}/berth/app:1\n    command: cat /marker\n"),
    );
    let (out, _) = ok2(&w2, &q, &["run", "--rm", "app"]);
    assert_eq!(out, "pushed\n");
    ok2(&w2, &q, &["down"]);
    w.assert_clean();
    w2.assert_clean();
}

/// build_test.go § TestBuildLongOutputLine: a build flooding the progress writer
/// with warnings (the same secret-looking ARG 36 times) still completes and
/// reports Built, for `build` and for `up --build`.
#[test]
fn build_long_output_line() {
    let w = World::new();
    let p = w.project(
        "longline",
        "services:\n    long-line:\n      build:\n        context: .\n        dockerfile: Dockerfile\n      command: 'true'\n",
    );
    let mut df = String::from("FROM IMAGE\n");
    for _ in 0..36 {
        df.push_str("ARG AWS_SECRET_ACCESS_KEY=FAKE_TO_GENERATE_WARNING_OUTPUT\n");
    }
    fs::write(p.join("Dockerfile"), df.replace("IMAGE", IMAGE)).unwrap();
    let (out, err) = ok2(&w, &p, &["build", "long-line"]);
    assert!(
        format!("{out}{err}").contains("long-line Built"),
        "{out}{err}"
    );
    let (out, err) = ok2(&w, &p, &["up", "--build", "long-line"]);
    assert!(
        format!("{out}{err}").contains("long-line Built"),
        "{out}{err}"
    );
    ok2(&w, &p, &["down", "-t", "0", "--rmi", "local"]);
    w.assert_clean();
}

/// build_test.go § TestBuildDependentImageWithProfile: `build SERVICE` of a
/// service behind a profile activates the profile and mounts its build secret.
#[test]
fn build_dependent_image_with_profile() {
    let w = World::new();
    let p = w.project(
        "profsecret",
        "secrets:\n  test-secret:\n    file: test-secret.txt\n\nservices:\n  secret-build-test:\n    profiles: [\"test\"]\n    build:\n      context: .\n      dockerfile: Dockerfile\n      secrets:\n        - test-secret\n",
    );
    fs::write(p.join("test-secret.txt"), "SECRET\n").unwrap();
    fs::write(
        p.join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN --mount=type=secret,id=test-secret ls -la /run/secrets/; cp /run/secrets/test-secret /tmp\n\nCMD [\"cat\", \"/tmp/test-secret\"]\n"),
    )
    .unwrap();
    let (out, err) = ok2(&w, &p, &["build", "secret-build-test"]);
    assert!(
        format!("{out}{err}").contains("secret-build-test Built"),
        "{out}{err}"
    );
    // The secret reached the step (and, copied by the step itself, the image).
    let (out, _) = ok2(
        &w,
        &p,
        &[
            "--profile",
            "test",
            "run",
            "--rm",
            "-T",
            "secret-build-test",
        ],
    );
    assert_eq!(out, "SECRET\n");
    ok2(
        &w,
        &p,
        &["--profile", "test", "down", "-t", "0", "--rmi", "local"],
    );
    w.assert_clean();
}

/// The busybox test image plus the host's bash and ssh-add (Debian's
/// openssh-client, scripts/setup installs it) with the libraries they load, as
/// one rootfs tarball to import.
fn ssh_tools_tar(dir: &Path) -> std::path::PathBuf {
    use std::process::Command;
    let path = dir.join("ssh-tools.tar");
    let mut b = tar::Builder::new(fs::File::create(&path).unwrap());
    let tools = ["/usr/bin/bash", "/usr/bin/ssh-add"];
    let mut files: Vec<String> = tools.iter().map(|t| t.to_string()).collect();
    for t in tools {
        let out = Command::new("ldd").arg(t).output().expect("ldd");
        assert!(
            out.status.success(),
            "{t} is not installed (scripts/setup installs openssh-client)"
        );
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            let lib = match l.split_once("=>") {
                Some((_, r)) => r.split_whitespace().next(),
                None => l.split_whitespace().next(),
            };
            if let Some(lib) = lib.filter(|p| p.starts_with('/')) {
                if !files.iter().any(|f| f == lib) {
                    files.push(lib.to_string());
                }
            }
        }
    }
    let mut base = tar::Archive::new(fs::File::open(common::busybox_tar()).unwrap());
    for e in base.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if name == "bin/bash" {
            continue;
        }
        let h = e.header().clone();
        b.append(&h, &mut e).unwrap();
    }
    let mut dirs: Vec<String> = vec![];
    for f in &files {
        let rel = f.trim_start_matches('/');
        let mut acc = String::new();
        let parts: Vec<&str> = rel.split('/').collect();
        for d in &parts[..parts.len() - 1] {
            acc = if acc.is_empty() {
                d.to_string()
            } else {
                format!("{acc}/{d}")
            };
            if !["bin"].contains(&acc.as_str()) && !dirs.contains(&acc) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, &acc, std::io::empty()).unwrap();
                dirs.push(acc.clone());
            }
        }
        let bytes = fs::read(f).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_size(bytes.len() as u64);
        // bash where scripts look for it, beside busybox's applets.
        let rel = if rel == "usr/bin/bash" {
            "bin/bash"
        } else {
            rel
        };
        b.append_data(&mut h, rel, &bytes[..]).unwrap();
    }
    b.finish().unwrap();
    path
}

/// TestBuildSSH: `--ssh ""` without an agent fails as docker compose does; a key
/// file from compose's `build.ssh` or from `--ssh` is served to
/// `RUN --mount=type=ssh,id=fake-ssh,required=true` (ssh-add -L lists it); so is
/// a forwarded agent socket (`--ssh fake-ssh=$SSH_AUTH_SOCK`); `up -d --build`
/// builds with it.
/// The socket and SSH_AUTH_SOCK exist during that RUN only. Also the subtest
/// docker/compose keeps disabled: a wrong id fails naming the required one.
#[test]
fn build_ssh() {
    let w = World::new();
    let tools = ssh_tools_tar(w.dir.path());
    let base = "localhost/ssh-tools:test";
    w.ok(
        w.dir.path(),
        &["image", "import", tools.to_str().unwrap(), base],
    );
    // `--project-directory fixtures/build-test`: any project with a build.
    let bt = w.project(
        "build-test-ssh-empty",
        "services:\n  nginx:\n    build: .\n",
    );
    fs::write(bt.join("Dockerfile"), format!("FROM {IMAGE}\n")).unwrap();

    let p = w.project(
        "ssh",
        "services:\n  ssh:\n    image: build-test-ssh\n    build:\n      context: .\n      ssh:\n        - fake-ssh=./fake_rsa\n",
    );
    fs::write(
        p.join("compose-without-ssh.yaml"),
        "services:\n  ssh:\n    image: build-test-ssh\n    build:\n      context: .\n",
    )
    .unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build-ssh");
    for f in ["fake_rsa", "fake_rsa.pub"] {
        fs::copy(fixtures.join(f), p.join(f)).unwrap();
    }
    // ssh-add refuses a key others can read.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p.join("fake_rsa"), fs::Permissions::from_mode(0o600)).unwrap();
    // docker/compose's fixture, on bash (process substitution) instead of alpine's sh.
    fs::write(
        p.join("Dockerfile"),
        format!(
            "FROM {base}\nSHELL [\"/bin/bash\", \"-c\"]\n\nWORKDIR /compose\nCOPY fake_rsa.pub /compose/\n\n\
             RUN --mount=type=ssh,id=fake-ssh,required=true diff <(ssh-add -L) <(cat /compose/fake_rsa.pub)\n\
             RUN test ! -e /run/buildkit/ssh_agent.0 && test -z \"$SSH_AUTH_SOCK\"\nCMD [\"true\"]\n"
        ),
    )
    .unwrap();

    // build failed with ssh default value
    let out = w
        .berth_command(
            w.dir.path(),
            &[
                "--project-directory",
                bt.to_str().unwrap(),
                "build",
                "--ssh",
                "",
            ],
        )
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set"),
        "{err}"
    );

    // build succeed with ssh from Compose file
    let pd = p.to_str().unwrap();
    ok2(&w, w.dir.path(), &["--project-directory", pd, "build"]);
    assert!(image_id(&w, &p, "build-test-ssh").is_some());
    // Other keys for the same id do not invalidate the step (BuildKit keys the
    // ids, not their keys): the RUN that would now fail is a cache hit.
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(p.join("other_key"))
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    let (_, err) = ok2(
        &w,
        w.dir.path(),
        &[
            "--project-directory",
            pd,
            "build",
            "--ssh",
            "fake-ssh=./ssh/other_key",
        ],
    );
    let vertex = err
        .lines()
        .find(|l| l.contains("RUN --mount=type=ssh,id=fake-ssh"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        err.lines().any(|l| l == format!("{vertex} CACHED")),
        "{err}"
    );

    // build succeed with ssh from CLI (a path relative to where berth runs)
    w.ok(&p, &["image", "rm", "build-test-ssh"]);
    let without = p.join("compose-without-ssh.yaml");
    let (_, err) = ok2(
        &w,
        w.dir.path(),
        &[
            "-f",
            without.to_str().unwrap(),
            "--project-directory",
            pd,
            "build",
            "--no-cache",
            "--ssh",
            "fake-ssh=./ssh/fake_rsa",
        ],
    );
    assert!(!err.contains("CACHED"), "{err}");
    assert!(image_id(&w, &p, "build-test-ssh").is_some());

    // build failed with wrong ssh key id from CLI (disabled upstream, BuildKit #5558)
    let out = w.berth_in(
        w.dir.path(),
        &[
            "-f",
            without.to_str().unwrap(),
            "--project-directory",
            pd,
            "build",
            "--no-cache",
            "--ssh",
            "wrong-ssh=./ssh/fake_rsa",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Dockerfile:7") && err.contains("\"fake-ssh\""),
        "{err}"
    );

    // The user's own agent, forwarded: `--ssh fake-ssh=$SSH_AUTH_SOCK`.
    let agent_dir = tempfile::tempdir().unwrap();
    let sock = agent_dir.path().join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent (openssh-client)");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // It prints its environment once the socket listens.
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(agent.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let agent = Kill(agent);
    assert!(first.contains("SSH_AUTH_SOCK"), "{first}");
    let added = std::process::Command::new("ssh-add")
        .arg(p.join("fake_rsa"))
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    // ssh-add names a key without a comment after its file: compare the keys only.
    fs::write(
        p.join("compose-agent.yaml"),
        "services:\n  ssh:\n    image: build-test-ssh-agent\n    build:\n      context: .\n      dockerfile: Dockerfile.agent\n",
    )
    .unwrap();
    fs::write(
        p.join("Dockerfile.agent"),
        format!(
            "FROM {base}\nCOPY fake_rsa.pub /compose/\n\
             RUN --mount=type=ssh,id=fake-ssh,required=true test \"$(ssh-add -L | cut -d' ' -f1,2)\" = \"$(cut -d' ' -f1,2 /compose/fake_rsa.pub)\"\n"
        ),
    )
    .unwrap();
    let agent_file = p.join("compose-agent.yaml");
    let out = w
        .berth_command(
            w.dir.path(),
            &[
                "-f",
                agent_file.to_str().unwrap(),
                "--project-directory",
                pd,
                "build",
                "--ssh",
                &format!("fake-ssh={}", sock.display()),
            ],
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(agent);

    // build succeed as part of up with ssh from Compose file
    w.ok(&p, &["image", "rm", "build-test-ssh"]);
    ok2(
        &w,
        w.dir.path(),
        &["--project-directory", pd, "up", "-d", "--build"],
    );
    assert!(image_id(&w, &p, "build-test-ssh").is_some());
    ok2(
        &w,
        w.dir.path(),
        &["--project-directory", pd, "down", "-t", "0"],
    );
    // Nothing of a step's agent is left behind.
    let tmp = w.root().join("build/tmp");
    let left: Vec<_> = fs::read_dir(&tmp)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    w.assert_clean();
}
