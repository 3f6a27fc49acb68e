//! Short syntax forms, defaults, normalization, profiles and validation
//! errors, each from a small inline compose file.

mod shared_fixtures;
use std::path::PathBuf;

use berth::compose::model::Project;
use berth::compose::output::to_yaml;
use berth::compose::{build_project, ModelError, ModelOptions, RawProject, Warning};
use indexmap::IndexMap;

fn raw(yaml: &str) -> RawProject {
    let mut environment = IndexMap::new();
    environment.insert("FROM_ENV".to_string(), "hello".to_string());
    RawProject {
        name: "p".into(),
        working_dir: PathBuf::from("/proj"),
        config_files: vec![PathBuf::from("/proj/compose.yaml")],
        environment,
        env_files: vec![],
        profiles: vec![],
        tree: serde_yaml_ng::from_str(yaml).unwrap(),
        variables: IndexMap::new(),
        warnings: vec![],
    }
}

fn opts() -> ModelOptions {
    ModelOptions {
        resolve_environment: false,
        ..Default::default()
    }
}

fn load(yaml: &str) -> Project {
    build_project(raw(yaml), &opts()).unwrap().0
}

fn load_warn(yaml: &str) -> (Project, Vec<Warning>) {
    build_project(raw(yaml), &opts()).unwrap()
}

fn fail(yaml: &str) -> String {
    match build_project(raw(yaml), &opts()) {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn ports_short_and_long() {
    let p = load(
        "services:\n  web:\n    image: x\n    ports:\n      - 80\n      - \"3000-3001:4000-4001\"\n      - target: 22\n        published: 2222\n",
    );
    let ports = &p.services["web"].ports;
    assert_eq!(ports.len(), 4);
    assert_eq!((ports[0].target, ports[0].published.as_str()), (80, ""));
    assert_eq!(
        (ports[1].target, ports[1].published.as_str()),
        (4000, "3000")
    );
    assert_eq!(ports[3].published, "2222");
    assert_eq!(ports[3].protocol, "tcp");
    assert_eq!(ports[3].mode, "ingress");
}

#[test]
fn volumes_short_forms() {
    let p = load(
        "services:\n  web:\n    image: x\n    volumes:\n      - ./src:/app\n      - data:/data:ro\n      - /anon\n      - ~/cfg:/cfg:rw,rshared\nvolumes:\n  data:\n",
    );
    let v = &p.services["web"].volumes;
    assert_eq!(v[0].kind, "bind");
    assert_eq!(v[0].source, "/proj/src");
    assert!(v[0].bind.as_ref().unwrap().create_host_path);
    assert_eq!((v[1].kind.as_str(), v[1].read_only), ("volume", true));
    assert_eq!((v[2].kind.as_str(), v[2].source.as_str()), ("volume", ""));
    assert_eq!(v[3].bind.as_ref().unwrap().propagation, "rshared");
    // create_host_path: true is compose-go's OptOut default and is not printed
    assert!(to_yaml(&p).contains("        bind: {}\n"));
}

#[test]
fn long_bind_without_bind_block_and_explicit_opt_out() {
    let p = load(
        "services:\n  web:\n    image: x\n    volumes:\n      - type: bind\n        source: /a\n        target: /b\n        bind:\n          create_host_path: false\n",
    );
    assert!(
        !p.services["web"].volumes[0]
            .bind
            .as_ref()
            .unwrap()
            .create_host_path
    );
    assert!(to_yaml(&p).contains("create_host_path: false"));
}

#[test]
fn depends_on_defaults() {
    let p = load(
        "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on:\n      c:\n        required: false\n  c:\n    image: x\n",
    );
    let d = &p.services["a"].depends_on["b"];
    assert_eq!(
        (d.condition.as_str(), d.required, d.restart),
        ("service_started", true, false)
    );
    let d = &p.services["b"].depends_on["c"];
    assert_eq!(
        (d.condition.as_str(), d.required),
        ("service_started", false)
    );
    let y = to_yaml(&p);
    assert!(y.contains("      b:\n        condition: service_started\n        required: true\n"));
}

#[test]
fn build_string_and_defaults() {
    let p = load("services:\n  a:\n    build: ./app\n  b:\n    build:\n      dockerfile_inline: FROM scratch\n");
    let b = p.services["a"].build.as_ref().unwrap();
    assert_eq!(
        (b.context.as_str(), b.dockerfile.as_str()),
        ("/proj/app", "Dockerfile")
    );
    let b = p.services["b"].build.as_ref().unwrap();
    assert_eq!((b.context.as_str(), b.dockerfile.as_str()), ("/proj", ""));
}

#[test]
fn env_file_forms() {
    let p = load(
        "services:\n  a:\n    image: x\n    env_file: a.env\n  b:\n    image: x\n    env_file:\n      - b.env\n      - path: c.env\n        required: false\n",
    );
    let a = &p.services["a"].env_files;
    assert_eq!((a[0].path.as_str(), a[0].required), ("/proj/a.env", true));
    let b = &p.services["b"].env_files;
    assert_eq!(b.len(), 2);
    assert!(!b[1].required);
}

#[test]
fn env_file_resolution_merges_and_keeps_unset_as_null() {
    let dir = std::env::temp_dir().join(format!("berth-envfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.env"), "A=from-file\nB=file\n").unwrap();
    let mut r = raw("services:\n  a:\n    image: x\n    env_file: app.env\n    environment:\n      B: env\n      UNSET:\n      FROM_ENV:\n");
    r.working_dir = dir.clone();
    let (p, _) = build_project(r, &ModelOptions::default()).unwrap();
    let env = &p.services["a"].environment;
    assert_eq!(env["A"].as_deref(), Some("from-file"));
    assert_eq!(env["B"].as_deref(), Some("env"));
    assert_eq!(env["FROM_ENV"].as_deref(), Some("hello"));
    assert_eq!(env["UNSET"], None);
    assert!(p.services["a"].env_files.is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_required_env_file_fails() {
    let r = raw("services:\n  a:\n    image: x\n    env_file: /nonexistent/berth.env\n");
    let err = build_project(r, &ModelOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/berth.env"), "{err}");
}

#[test]
fn mappings_from_lists() {
    let p = load(
        "services:\n  a:\n    image: x\n    environment:\n      - A=1\n      - B\n      - FROM_ENV\n    labels:\n      - com.x=y\n      - flag\n    extra_hosts:\n      - \"h1:10.0.0.1\"\n      - \"h2=::1\"\n      - \"h3=[::2]\"\n    sysctls:\n      net.core.somaxconn: 1024\n",
    );
    let s = &p.services["a"];
    assert_eq!(s.environment["A"].as_deref(), Some("1"));
    assert_eq!(s.environment["B"], None);
    assert_eq!(s.environment["FROM_ENV"].as_deref(), Some("hello"));
    assert_eq!(s.labels["flag"], "");
    assert_eq!(s.extra_hosts["h3"], vec!["::2".to_string()]);
    assert_eq!(s.sysctls["net.core.somaxconn"], "1024");
    assert!(to_yaml(&p)
        .contains("    extra_hosts:\n      - h1=10.0.0.1\n      - h2=::1\n      - h3=::2\n"));
}

#[test]
fn commands_split_and_empty() {
    let p = load(
        "services:\n  a:\n    image: x\n    command: echo \"hello world\"\n    entrypoint: \"\"\n  b:\n    image: x\n    command: [\"a\", \"b c\"]\n",
    );
    assert_eq!(
        p.services["a"].command,
        Some(vec!["echo".into(), "hello world".into()])
    );
    assert_eq!(p.services["a"].entrypoint, Some(vec![]));
    assert_eq!(p.services["b"].entrypoint, None);
    let y = to_yaml(&p);
    assert!(y.contains("    entrypoint: []\n"));
}

#[test]
fn healthcheck_ulimits_durations_bytes() {
    let p = load(
        "services:\n  a:\n    image: x\n    healthcheck:\n      test: curl -f localhost\n      interval: 90s\n      start_period: 1h\n    ulimits:\n      nofile: 1024\n      core:\n        soft: 1\n        hard: 2\n    mem_limit: 1g\n    shm_size: 64M\n    stop_grace_period: 500ms\n",
    );
    let s = &p.services["a"];
    let hc = s.healthcheck.as_ref().unwrap();
    assert_eq!(hc.test, vec!["CMD-SHELL", "curl -f localhost"]);
    assert_eq!(hc.interval.unwrap().to_string(), "1m30s");
    assert_eq!(hc.start_period.unwrap().to_string(), "1h0m0s");
    assert_eq!(s.ulimits["nofile"].single, 1024);
    assert_eq!((s.ulimits["core"].soft, s.ulimits["core"].hard), (1, 2));
    assert_eq!(s.mem_limit.0, 1 << 30);
    assert_eq!(s.shm_size.0, 64 << 20);
    let y = to_yaml(&p);
    assert!(y.contains("    mem_limit: \"1073741824\"\n"));
    assert!(y.contains("    stop_grace_period: 500ms\n"));
}

#[test]
fn typed_casts_after_interpolation() {
    let (p, warnings) = load_warn(
        "services:\n  a:\n    image: x\n    privileged: \"yes\"\n    tty: \"true\"\n    cpus: \"1.5\"\n    scale: \"2\"\n    read_only: \"off\"\n",
    );
    let s = &p.services["a"];
    assert!(s.privileged && s.tty && !s.read_only);
    assert_eq!(s.cpus, 1.5);
    assert_eq!(s.scale, Some(2));
    assert!(
        warnings.iter().any(|w| w.0.contains("YAML 1.2")),
        "{warnings:?}"
    );
}

#[test]
fn secrets_configs_short_and_defaults() {
    let p = load(
        "services:\n  a:\n    image: x\n    secrets: [s]\n    configs:\n      - c\n      - source: c\n        target: /etc/c\n        mode: 0440\nsecrets:\n  s:\n    file: ./s.txt\nconfigs:\n  c:\n    content: hi\n",
    );
    let s = &p.services["a"];
    assert_eq!(s.secrets[0].target, "/run/secrets/s");
    assert_eq!(s.configs[0].target, "");
    assert_eq!(p.secrets["s"].file, "/proj/s.txt");
    assert_eq!(p.secrets["s"].name, "p_s");
}

#[test]
fn default_network_only_when_used() {
    let p = load("services:\n  a:\n    image: x\n    network_mode: host\n");
    assert!(p.networks.is_empty());
    assert!(p.services["a"].networks.is_empty());
    let p = load("services:\n  a:\n    image: x\n    networks: [front]\nnetworks:\n  front:\n");
    assert!(!p.networks.contains_key("default"));
    let p = load("services:\n  a:\n    image: x\n");
    assert_eq!(p.networks["default"].name, "p_default");
    assert!(p.services["a"].networks.contains_key("default"));
}

#[test]
fn resource_names() {
    let p = load(
        "services:\n  a:\n    image: x\n    volumes: [v1:/a, v2:/b, v3:/c]\nvolumes:\n  v1:\n  v2:\n    external: true\n  v3:\n    name: custom\nnetworks:\n  legacy:\n    external:\n      name: real-net\n",
    );
    assert_eq!(p.volumes["v1"].name, "p_v1");
    assert_eq!(p.volumes["v2"].name, "v2");
    assert_eq!(p.volumes["v3"].name, "custom");
    assert_eq!(p.networks["legacy"].name, "real-net");
    assert!(p.networks["legacy"].external);
}

#[test]
fn implicit_depends_on() {
    let p = load(
        "services:\n  a:\n    image: x\n    network_mode: service:b\n    volumes_from: [c, \"container:ext\"]\n    links: [\"d:alias\"]\n    pull_policy: if_not_present\n  b:\n    image: x\n  c:\n    image: x\n  d:\n    image: x\n",
    );
    let a = &p.services["a"];
    assert!(a.depends_on["b"].restart);
    assert!(!a.depends_on["c"].restart);
    assert!(a.depends_on["d"].restart);
    assert_eq!(a.depends_on.len(), 3);
    assert_eq!(a.pull_policy, "missing");
}

#[test]
fn no_normalize_keeps_model_bare() {
    let r = raw("services:\n  a:\n    image: x\nvolumes:\n  v:\n");
    let o = ModelOptions {
        normalize: false,
        ..opts()
    };
    let p = build_project(r, &o).unwrap().0;
    assert!(p.networks.is_empty());
    assert_eq!(p.volumes["v"].name, "");
}

#[test]
fn profiles_disable_and_enable() {
    let yaml = "services:\n  a:\n    image: x\n  dbg:\n    image: x\n    profiles: [debug]\n";
    let p = load(yaml);
    assert!(!p.services.contains_key("dbg"));
    assert!(p.disabled_services.contains_key("dbg"));
    let mut r = raw(yaml);
    r.profiles = vec!["debug".into()];
    let p = build_project(r, &opts()).unwrap().0;
    assert!(p.services.contains_key("dbg"));
    let o = ModelOptions {
        services: vec!["dbg".into()],
        ..opts()
    };
    let p = build_project(raw(yaml), &o).unwrap().0;
    assert_eq!(p.service_names(), vec!["dbg".to_string()]);
    let o = ModelOptions {
        services: vec!["nope".into()],
        ..opts()
    };
    assert!(build_project(raw(yaml), &o).is_err());
}

#[test]
fn errors_name_the_key_path() {
    let e = fail("services:\n  web:\n    image: x\n    ports:\n      - 80\n      - \"abc:80\"\n");
    assert!(e.contains("services.web.ports[1]"), "{e}");
    assert!(e.contains("/proj/compose.yaml"), "{e}");
    let e = fail("services:\n  web:\n    image: x\n    cpus: lots\n");
    assert!(e.contains("services.web.cpus"), "{e}");
    assert!(e.contains("lots"), "{e}");
    let e = fail("services:\n  web:\n    image: x\n    colour: red\n");
    assert!(e.contains("services.web") && e.contains("colour"), "{e}");
    let e = fail("services:\n  web:\n    image: x\n    volumes:\n      - \"ab::c:d\"\n");
    assert!(e.contains("services.web.volumes[0]"), "{e}");
    let e = fail("services:\n  web:\n    image: x\n    healthcheck:\n      interval: often\n");
    assert!(e.contains("services.web.healthcheck.interval"), "{e}");
    let e = fail("services:\n  web: [1]\n");
    assert!(e.contains("services.web"), "{e}");
}

#[test]
fn consistency_errors() {
    let cases = [
        ("services:\n  a: {}\n", "neither an image nor a build context"),
        ("services:\n  a:\n    image: x\n    networks: [n]\n", "undefined network n"),
        ("services:\n  a:\n    image: x\n    volumes: [vol:/v]\n", "undefined volume vol"),
        ("services:\n  a:\n    image: x\n    secrets: [s]\n", "undefined secret s"),
        ("services:\n  a:\n    image: x\n    configs: [c]\n", "undefined config c"),
        ("services:\n  a:\n    image: x\n    depends_on: [b]\n", "depends on undefined service \"b\""),
        (
            "services:\n  a:\n    image: x\n    network_mode: host\n    networks: [n]\nnetworks:\n  n:\n",
            "mutually exclusive `network_mode` and `networks`",
        ),
        ("services:\n  a:\n    image: x\n    scale: 2\n    container_name: c\n", "container_name"),
        ("services:\n  a:\n    image: x\nsecrets:\n  s: {}\n", "must declare either `file` or `environment`"),
    ];
    for (yaml, msg) in cases {
        let e = fail(yaml);
        assert!(e.contains(msg), "{yaml}: {e}");
    }
    let o = ModelOptions {
        consistency: false,
        ..opts()
    };
    assert!(build_project(raw("services:\n  a:\n    networks: [n]\n"), &o).is_ok());
}

#[test]
fn optional_dependency_may_be_missing() {
    load("services:\n  a:\n    image: x\n    depends_on:\n      b:\n        required: false\n");
}

#[test]
fn cycles() {
    let e = fail("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n");
    assert_eq!(e, "dependency cycle detected: a -> b -> a");
    let Some(dir) = shared_fixtures::conformance("compose-spec+compose-go/loader/testdata") else {
        return;
    };
    for (file, msg) in [
        (
            "compose-depends-on-cycle.yaml",
            "dependency cycle detected: service1 -> service2 -> service3 -> service1",
        ),
        (
            "compose-depends-on-self.yaml",
            "dependency cycle detected: service1 -> service1",
        ),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let e = build_project(raw(&text), &opts()).unwrap_err();
        assert!(matches!(e, ModelError::Cycle(_)));
        assert_eq!(e.to_string(), msg);
    }
}

#[test]
fn extensions_are_kept() {
    let p = load("x-top: 1\nservices:\n  a:\n    image: x\n    x-svc:\n      k: v\n");
    assert!(p.extensions.contains_key("x-top"));
    assert!(p.services["a"].extensions.contains_key("x-svc"));
    let y = to_yaml(&p);
    assert!(y.contains("    x-svc:\n      k: v\n"));
    assert!(y.ends_with("x-top: 1\n"));
}

#[test]
fn never_panics_on_odd_input() {
    let inputs = [
        "",
        "[]",
        "42",
        "services: 3",
        "services:\n  a: null\n",
        "services:\n  a:\n    ports: 5\n",
        "services:\n  a:\n    ports: [{}]\n",
        "services:\n  a:\n    volumes: [\"\"]\n",
        "services:\n  a:\n    depends_on: 7\n",
        "services:\n  a:\n    environment: 7\n",
        "services:\n  a:\n    build: [1]\n",
        "services:\n  a:\n    command: \"'unterminated\"\n",
        "services:\n  a:\n    ulimits:\n      nofile: {soft: x}\n",
        "services:\n  a:\n    ports: [\"99999999999999999999:1\"]\n",
        "services:\n  a:\n    mem_limit: 99999999999999999999g\n",
        "services:\n  a:\n    stop_grace_period: 999999999999h\n",
        "networks: [a]\n",
        "volumes:\n  v: 3\n",
        "services:\n  ? [a]\n  : {}\n",
        "services:\n  a:\n    deploy:\n      resources:\n        reservations:\n          devices: [{count: many}]\n",
    ];
    for input in inputs {
        let tree = serde_yaml_ng::from_str(input).unwrap_or(serde_yaml_ng::Value::Null);
        let mut r = raw("{}");
        r.tree = tree;
        let _ = build_project(r, &ModelOptions::default());
    }
}

#[test]
fn extension_maps_print_sorted() {
    let p = load("services:\n  a:\n    image: x\n    x-z:\n      b: 1\n      a: 2\nx-top:\n  z: 1\n  y: on\n");
    let y = to_yaml(&p);
    assert!(y.contains("    x-z:\n      a: 2\n      b: 1\n"), "{y}");
    assert!(y.ends_with("x-top:\n  \"y\": \"on\"\n  z: 1\n"), "{y}");
}

#[test]
fn label_files_merge_under_labels() {
    let dir = std::env::temp_dir().join(format!("berth-labelfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("l.label"), "a=from-file\nb=file\n").unwrap();
    let mut r =
        raw("services:\n  a:\n    image: x\n    label_file: l.label\n    labels:\n      b: own\n");
    r.working_dir = dir.clone();
    let (p, _) = build_project(r, &ModelOptions::default()).unwrap();
    let l = &p.services["a"].labels;
    assert_eq!((l["a"].as_str(), l["b"].as_str()), ("from-file", "own"));
    assert!(p.services["a"].label_files.is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn enumerated_values_are_checked() {
    let e = fail("services:\n  a:\n    image: x\n    depends_on:\n      b:\n        condition: service_ready\n  b:\n    image: x\n");
    assert!(
        e.contains("services.a.depends_on.b.condition") && e.contains("service_healthy"),
        "{e}"
    );
    let e = fail("services:\n  a:\n    image: x\n    pull_policy: sometimes\n");
    assert!(e.contains("services.a.pull_policy"), "{e}");
    load("services:\n  a:\n    image: x\n    pull_policy: every_12h\n");
    let e = fail(
        "services:\n  a:\n    image: x\n    volumes:\n      - type: nfs\n        target: /x\n",
    );
    assert!(e.contains("services.a.volumes[0].type"), "{e}");
}

#[test]
fn unknown_keys_get_a_hint() {
    let e = fail("services:\n  a:\n    image: x\n    volume: [\"/x\"]\n");
    assert!(
        e.contains("services.a") && e.contains("did you mean \"volumes\"?"),
        "{e}"
    );
    let e = fail("services:\n  a:\n    image: x\n    wrongField: 1\n");
    assert!(e.contains("\"x-\" prefix"), "{e}");
}

#[test]
fn resource_names_are_checked() {
    let e = fail("services:\n  \"web app\":\n    image: x\n");
    assert!(e.contains("services") && e.contains("\"web app\""), "{e}");
}

#[test]
fn null_attributes_are_absent() {
    let p = load("services:\n  a:\n    image: x\n    ports:\n    volumes:\n    networks:\n    command:\n    environment:\n");
    let s = &p.services["a"];
    assert!(s.ports.is_empty() && s.volumes.is_empty() && s.command.is_none());
    assert!(s.networks.contains_key("default"));
}

#[test]
fn null_nested_attributes_are_absent() {
    let p = load("services:\n  a:\n    image: x\n    deploy:\n      resources:\n      replicas:\n    healthcheck:\n      interval:\n");
    let s = &p.services["a"];
    assert!(s.deploy.as_ref().unwrap().replicas.is_none());
    assert!(s.healthcheck.as_ref().unwrap().interval.is_none());
}
