//! `RunConfig` → `oci_spec::runtime::Spec`. The spec is written as JSON first: it
//! reads like the config.json a person would check, and serde does the typing.

use std::sync::Mutex;

use oci_spec::runtime::{
    LinuxCapabilities, LinuxDeviceCgroup, LinuxResources, LinuxSeccomp, PosixRlimit, Spec,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use indexmap::IndexMap;

use super::defaults::{effective_caps, rlimits, DEFAULT_SHM_SIZE, MASKED_PATHS, READONLY_PATHS};
use super::run_config::{MountSpec, NamespaceMode, RunConfig};

/// A setting the OCI spec cannot express.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// An unknown `ulimits` name.
    #[error("unknown ulimit {0:?}")]
    UnknownUlimit(String),
    /// serde refused the spec (a bug in berth).
    #[error("building the runtime spec: {0}")]
    Encode(#[from] serde_json::Error),
}

fn rlimit_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "core" => "RLIMIT_CORE",
        "cpu" => "RLIMIT_CPU",
        "data" => "RLIMIT_DATA",
        "fsize" => "RLIMIT_FSIZE",
        "locks" => "RLIMIT_LOCKS",
        "memlock" => "RLIMIT_MEMLOCK",
        "msgqueue" => "RLIMIT_MSGQUEUE",
        "nice" => "RLIMIT_NICE",
        "nofile" => "RLIMIT_NOFILE",
        "nproc" => "RLIMIT_NPROC",
        "rss" => "RLIMIT_RSS",
        "rtprio" => "RLIMIT_RTPRIO",
        "rttime" => "RLIMIT_RTTIME",
        "sigpending" => "RLIMIT_SIGPENDING",
        "stack" => "RLIMIT_STACK",
        "as" => "RLIMIT_AS",
        _ => return None,
    })
}

fn namespace(kind: &str, mode: &NamespaceMode) -> Option<Value> {
    match mode {
        NamespaceMode::Private => Some(json!({ "type": kind })),
        NamespaceMode::Host => None,
        NamespaceMode::Join(path) => Some(json!({ "type": kind, "path": path })),
    }
}

/// The default device nodes every container gets, as cgroup rules (docker's list).
fn device_rules(privileged: bool) -> Vec<Value> {
    if privileged {
        return vec![json!({ "allow": true, "access": "rwm" })];
    }
    let mut rules = vec![json!({ "allow": false, "access": "rwm" })];
    for (kind, major, minor) in [
        ("c", 1, 3),    // null
        ("c", 1, 5),    // zero
        ("c", 1, 7),    // full
        ("c", 1, 8),    // random
        ("c", 1, 9),    // urandom
        ("c", 5, 0),    // tty
        ("c", 5, 1),    // console
        ("c", 5, 2),    // ptmx
        ("c", 136, -1), // pts
    ] {
        let mut r = json!({ "allow": true, "type": kind, "major": major, "access": "rwm" });
        if minor >= 0 {
            r["minor"] = json!(minor);
        }
        rules.push(r);
    }
    rules
}

/// Builds the runtime spec for `cfg`; the rootfs is the bundle's `rootfs`.
pub fn build_spec(cfg: &RunConfig) -> Result<Spec, SpecError> {
    let caps = effective_caps(cfg.privileged, &cfg.cap_add, &cfg.cap_drop);
    // docker's defaults, each replaced by the service's `ulimits:` of that name.
    let mut limits: IndexMap<String, (u64, u64)> = rlimits()
        .into_iter()
        .map(|(n, s, h)| (n.to_string(), (s, h)))
        .collect();
    for (name, (soft, hard)) in &cfg.ulimits {
        rlimit_type(name).ok_or_else(|| SpecError::UnknownUlimit(name.clone()))?;
        limits.insert(name.clone(), (*soft, *hard));
    }
    let mut rlimit_key = vec![];
    for (name, (soft, hard)) in &limits {
        let t = rlimit_type(name).ok_or_else(|| SpecError::UnknownUlimit(name.clone()))?;
        rlimit_key.push((t, *soft, *hard));
    }

    let shm = cfg.shm_size.unwrap_or(DEFAULT_SHM_SIZE);
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", if cfg.privileged { "rw" } else { "ro" }]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
    ];
    if cfg.ipc != NamespaceMode::Host {
        mounts.push(
            json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={shm}")]}),
        );
    }
    for m in &cfg.mounts {
        mounts.push(match m {
            MountSpec::Bind {
                source,
                target,
                read_only,
                propagation,
            } => {
                let mut opts = vec!["rbind".to_string()];
                opts.push(propagation.clone().unwrap_or_else(|| "rprivate".into()));
                if *read_only {
                    opts.push("ro".into());
                }
                json!({"destination": target, "type": "bind", "source": source, "options": opts})
            }
            MountSpec::Tmpfs { target, size, mode } => {
                let mut opts = vec![
                    "nosuid".to_string(),
                    "nodev".to_string(),
                    "noexec".to_string(),
                ];
                if let Some(s) = size {
                    opts.push(format!("size={s}"));
                }
                if let Some(m) = mode {
                    opts.push(format!("mode={m:o}"));
                }
                json!({"destination": target, "type": "tmpfs", "source": "tmpfs", "options": opts})
            }
            MountSpec::Layers { lowers, target } => {
                let dirs: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
                let mut opts = vec![
                    "ro".to_string(),
                    "nosuid".to_string(),
                    "nodev".to_string(),
                    format!("lowerdir={}", dirs.join(":")),
                ];
                // As the rootfs overlay (runtime/src/rootfs): in a user namespace
                // (rootless berth) overlay reads its metadata from user.* xattrs.
                if berth_runtime::namespaces::in_user_namespace() {
                    opts.push("userxattr".into());
                }
                json!({"destination": target, "type": "overlay", "source": "overlay", "options": opts})
            }
        });
    }

    // /etc/hosts, /etc/hostname and /etc/resolv.conf last, as docker does: a volume
    // at /etc (or at a symlink to it) must not hide them. A mount of the service's own
    // at one of these paths wins.
    for (source, target) in &cfg.etc_files {
        let own = cfg.mounts.iter().any(|m| {
            let t = match m {
                MountSpec::Bind { target, .. }
                | MountSpec::Tmpfs { target, .. }
                | MountSpec::Layers { target, .. } => target,
            };
            t.trim_end_matches('/') == target
        });
        if !own {
            mounts.push(json!({"destination": target, "type": "bind", "source": source, "options": ["rbind", "rprivate"]}));
        }
    }

    let namespaces: Vec<Value> = [
        ("pid", &cfg.pid),
        ("network", &cfg.net),
        ("ipc", &cfg.ipc),
        ("uts", &cfg.uts),
        ("mount", &NamespaceMode::Private),
        (
            "cgroup",
            if cfg.cgroup_ns {
                &NamespaceMode::Private
            } else {
                &NamespaceMode::Host
            },
        ),
    ]
    .into_iter()
    .filter_map(|(k, m)| namespace(k, m))
    .collect();

    let mut resources = json!({});
    let mut memory = serde_json::Map::new();
    if let Some(m) = cfg.memory {
        memory.insert("limit".into(), json!(m));
    }
    if let Some(m) = cfg.memory_reservation {
        memory.insert("reservation".into(), json!(m));
    }
    if let Some(m) = cfg.memory_swap {
        memory.insert("swap".into(), json!(m));
    }
    if !memory.is_empty() {
        resources["memory"] = Value::Object(memory);
    }
    let mut cpu = serde_json::Map::new();
    if let Some(q) = cfg.cpu_quota {
        cpu.insert("quota".into(), json!(q));
        cpu.insert("period".into(), json!(100_000));
    }
    if let Some(s) = cfg.cpu_shares {
        cpu.insert("shares".into(), json!(s));
    }
    if let Some(c) = &cfg.cpuset {
        cpu.insert("cpus".into(), json!(c));
    }
    if !cpu.is_empty() {
        resources["cpu"] = Value::Object(cpu);
    }
    if let Some(p) = cfg.pids_limit {
        resources["pids"] = json!({ "limit": p });
    }
    // Rootless berth applies only the limits whose controllers are delegated to
    // it; `up` warned once per project naming the others (rootless::project).
    if crate::rootless::in_user_namespace() {
        crate::rootless::cgroups::keep_delegated(&mut resources);
    }

    let linux = json!({
        "namespaces": namespaces,
        "resources": resources,
        "cgroupsPath": cfg.cgroup_path,
        "sysctl": cfg.sysctls,
    });

    let process = json!({
        "terminal": cfg.terminal,
        "user": { "uid": cfg.uid, "gid": cfg.gid, "additionalGids": cfg.additional_gids },
        "args": cfg.args,
        "env": cfg.env,
        "cwd": if cfg.cwd.is_empty() { "/" } else { cfg.cwd.as_str() },
        "noNewPrivileges": cfg.no_new_privileges,
        // Set even when 0, as docker does: the caller's own oom_score_adj and nice
        // value are not the container's.
        "oomScoreAdj": cfg.oom_score_adj.unwrap_or(0),
        "scheduler": { "policy": "SCHED_OTHER", "nice": 0 },
    });

    let mut spec = json!({
        "ociVersion": "1.2.0",
        "process": process,
        "root": { "path": "rootfs", "readonly": cfg.read_only },
        "hostname": cfg.hostname,
        "mounts": mounts,
        "linux": linux,
    });
    if let Some(d) = &cfg.domainname {
        spec["domainname"] = json!(d);
    }
    let mut spec: Spec = serde_json::from_value(spec)?;
    // What nearly every container has alike, typed once per process (see `Shared`).
    if let Some(p) = spec.process_mut() {
        p.set_capabilities(Some(CAPABILITIES.typed(
            &caps,
            |c| json!({ "bounding": c, "effective": c, "permitted": c }),
        )?));
        p.set_rlimits(Some(RLIMITS.typed(&rlimit_key, |key| {
            let all: Vec<Value> = key
                .iter()
                .map(|(t, soft, hard)| json!({ "type": t, "soft": soft, "hard": hard }))
                .collect();
            json!(all)
        })?));
    }
    if let Some(linux) = spec.linux_mut() {
        if !cfg.privileged {
            linux.set_masked_paths(Some(MASKED_PATHS.iter().map(|p| p.to_string()).collect()));
            linux.set_readonly_paths(Some(READONLY_PATHS.iter().map(|p| p.to_string()).collect()));
        }
        let devices = DEVICES.typed(&cfg.privileged, |p| json!(device_rules(*p)))?;
        linux
            .resources_mut()
            .get_or_insert_with(LinuxResources::default)
            .set_devices(Some(devices));
    }
    if !cfg.seccomp_unconfined {
        // docker's default profile, whose allow list follows the granted capabilities.
        let caps = berth_runtime::capabilities::Sets::from_spec(
            spec.process()
                .as_ref()
                .and_then(|p| p.capabilities().as_ref()),
        );
        if let Some(mut linux) = spec.linux().clone() {
            linux.set_seccomp(Some(default_seccomp(&caps)));
            spec.set_linux(Some(linux));
        }
    }
    Ok(spec)
}

/// Typed spec parts by what decides them, each typed through serde once per
/// distinct key and process: `up` builds a spec per container, and typing the
/// capabilities, rlimits and device rules every container shares cost more
/// than typing all the rest of its spec.
struct Shared<K, T>(Mutex<Vec<(K, T)>>);

impl<K: PartialEq + Clone, T: Clone> Shared<K, T> {
    const fn new() -> Self {
        Shared(Mutex::new(Vec::new()))
    }

    /// The part for `key`: `make(key)`, the first time.
    fn get<E>(&self, key: &K, make: impl FnOnce(&K) -> Result<T, E>) -> Result<T, E> {
        let mut done = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, t)) = done.iter().find(|(k, _)| k == key) {
            return Ok(t.clone());
        }
        let t = make(key)?;
        done.push((key.clone(), t.clone()));
        Ok(t)
    }
}

impl<K: PartialEq + Clone, T: DeserializeOwned + Clone> Shared<K, T> {
    /// The part for `key`: `json(key)` typed, the first time.
    fn typed(&self, key: &K, json: impl FnOnce(&K) -> Value) -> Result<T, SpecError> {
        self.get(key, |k| Ok(serde_json::from_value(json(k))?))
    }
}

/// By the capability names granted.
static CAPABILITIES: Shared<Vec<String>, LinuxCapabilities> = Shared::new();
/// By each limit's (type, soft, hard).
static RLIMITS: Shared<Vec<(&'static str, u64, u64)>, Vec<PosixRlimit>> = Shared::new();
/// By whether the container is privileged.
static DEVICES: Shared<bool, Vec<LinuxDeviceCgroup>> = Shared::new();

/// docker's default seccomp profile for a process holding `caps`, built once per
/// set of capabilities and process: `up` builds a spec per container, nearly all
/// with the same capabilities, and building the profile (its ~300 rules typed
/// through serde) was a fifth of the instructions of an `up -d` of 50.
fn default_seccomp(caps: &berth_runtime::capabilities::Sets) -> LinuxSeccomp {
    static BUILT: Shared<berth_runtime::capabilities::Sets, LinuxSeccomp> = Shared::new();
    let Ok(p) = BUILT.get(caps, |c| {
        Ok::<_, std::convert::Infallible>(berth_runtime::seccomp::default::profile(c))
    });
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn base() -> RunConfig {
        RunConfig {
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            hostname: "abc".into(),
            cgroup_path: "berth/abc".into(),
            ..RunConfig::default()
        }
    }

    #[test]
    fn shared_parts_follow_their_keys() {
        let plain = base();
        let privileged = RunConfig {
            privileged: true,
            cap_add: vec!["NET_ADMIN".into()],
            ulimits: [("nofile".to_string(), (10, 20))].into_iter().collect(),
            ..base()
        };
        let json = |c: &RunConfig| serde_json::to_value(build_spec(c).unwrap()).unwrap();
        let (a, b) = (json(&plain), json(&privileged));
        // Built again (from the caches), each is what it was.
        assert_eq!(json(&plain), a);
        assert_eq!(json(&privileged), b);
        assert_ne!(
            a["linux"]["resources"]["devices"],
            b["linux"]["resources"]["devices"]
        );
        assert_ne!(a["process"]["capabilities"], b["process"]["capabilities"]);
        assert_ne!(a["process"]["rlimits"], b["process"]["rlimits"]);
        assert!(b["linux"].get("maskedPaths").is_none());
        assert_eq!(a["linux"]["resources"]["devices"][0]["allow"], false);
    }

    #[test]
    fn defaults_are_dockers() {
        let spec = build_spec(&base()).unwrap();
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            v["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert_eq!(v["linux"]["maskedPaths"][3], "/proc/kcore");
        let dests: Vec<_> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm"
            ]
        );
        assert_eq!(v["mounts"][6]["options"][4], "size=67108864");
        let ns: Vec<_> = v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ns, ["pid", "network", "ipc", "uts", "mount"]);
    }

    #[test]
    fn service_settings_reach_the_spec() {
        let mut c = base();
        c.net = NamespaceMode::Join(PathBuf::from("/run/berth/netns/x"));
        c.pid = NamespaceMode::Host;
        c.memory = Some(64 << 20);
        c.cpu_quota = Some(50_000);
        c.pids_limit = Some(20);
        c.read_only = true;
        c.cgroup_ns = true;
        c.ulimits.insert("nofile".into(), (1024, 2048));
        c.mounts.push(MountSpec::Bind {
            source: "/srv/site".into(),
            target: "/www".into(),
            read_only: true,
            propagation: None,
        });
        c.mounts.push(MountSpec::Tmpfs {
            target: "/tmp".into(),
            size: Some(1 << 20),
            mode: Some(0o1777),
        });
        let v = serde_json::to_value(build_spec(&c).unwrap()).unwrap();
        assert_eq!(v["linux"]["namespaces"][0]["path"], "/run/berth/netns/x");
        assert!(v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["type"] != "pid"));
        assert!(v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "cgroup" && n.get("path").is_none()));
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 50_000);
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], 20);
        assert_eq!(v["root"]["readonly"], true);
        assert_eq!(v["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
        assert_eq!(v["process"]["rlimits"][0]["soft"], 1024);
        assert_eq!(v["process"]["rlimits"][0]["hard"], 2048);
        let binds: Vec<_> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["destination"] == "/www")
            .collect();
        assert_eq!(binds[0]["options"], json!(["rbind", "rprivate", "ro"]));
        let tmp: Vec<_> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["destination"] == "/tmp")
            .collect();
        assert_eq!(
            tmp[0]["options"],
            json!(["nosuid", "nodev", "noexec", "size=1048576", "mode=1777"])
        );
    }

    #[test]
    fn etc_files_come_after_the_services_mounts() {
        let mut c = base();
        c.etc_files = vec![
            ("/state/hosts".into(), "/etc/hosts".into()),
            ("/state/resolv.conf".into(), "/etc/resolv.conf".into()),
        ];
        c.mounts.push(MountSpec::Bind {
            source: "/vol/etc".into(),
            target: "/etc".into(),
            read_only: false,
            propagation: None,
        });
        c.mounts.push(MountSpec::Bind {
            source: "/mine/resolv.conf".into(),
            target: "/etc/resolv.conf".into(),
            read_only: true,
            propagation: None,
        });
        let v = serde_json::to_value(build_spec(&c).unwrap()).unwrap();
        let dests: Vec<_> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["destination"].as_str().unwrap().to_string(),
                    m["source"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let pos = |d: &str| dests.iter().position(|(x, _)| x == d).unwrap();
        assert!(pos("/etc") < pos("/etc/hosts"));
        let resolv: Vec<_> = dests
            .iter()
            .filter(|(d, _)| d == "/etc/resolv.conf")
            .collect();
        assert_eq!(resolv.len(), 1, "the service's own mount wins: {dests:?}");
        assert_eq!(resolv[0].1, "/mine/resolv.conf");
    }

    #[test]
    fn limits_nice_and_oom_score_are_dockers_not_the_callers() {
        let v = serde_json::to_value(build_spec(&base()).unwrap()).unwrap();
        let lim = |t: &str| {
            v["process"]["rlimits"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["type"] == t)
                .cloned()
                .unwrap_or_else(|| panic!("no {t}"))
        };
        let nofile = lim("RLIMIT_NOFILE")["soft"].as_u64().unwrap();
        assert!(
            nofile <= 1 << 20 && nofile == lim("RLIMIT_NOFILE")["hard"],
            "{nofile}"
        );
        assert_eq!(lim("RLIMIT_NICE")["hard"], 0);
        assert_eq!(v["process"]["rlimits"].as_array().unwrap().len(), 16);
        assert_eq!(v["process"]["oomScoreAdj"], 0);
        assert_eq!(v["process"]["scheduler"]["nice"], 0);
    }

    #[test]
    fn unknown_ulimits_are_errors() {
        let mut c = base();
        c.ulimits.insert("bogus".into(), (1, 1));
        assert!(build_spec(&c).unwrap_err().to_string().contains("bogus"));
    }
}
