//! A compose service plus its image's defaults, turned into berth's container
//! settings: the command, environment, identity, limits and security options.
//! Mounts and networks are decided elsewhere (`mounts.rs`, `network.rs`).

use std::time::Duration;

use indexmap::IndexMap;

use crate::compose::model::ServiceConfig;
use crate::image::RuntimeConfig;
use crate::spec::defaults::DEFAULT_PATH;
use crate::spec::RunConfig;
use crate::supervise::health::{probe_command, HealthConfig};
use crate::supervise::logfile::Rotation;
use crate::supervise::restart::RestartPolicy;

/// A service that cannot run as written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Neither the service nor the image gives a command.
    #[error("service {0:?} has no command: the image has no Entrypoint or Cmd and the service sets neither `command` nor `entrypoint`")]
    NoCommand(String),
    /// `restart:` is not a policy.
    #[error("services.{service}.restart: {source}")]
    Restart {
        /// The service.
        service: String,
        /// What was wrong.
        source: crate::supervise::restart::InvalidPolicy,
    },
    /// More CPUs than the host has.
    #[error("services.{service}.{key}: {value} is out of range: range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")]
    Cpus {
        /// The service.
        service: String,
        /// `cpus` or `deploy.resources.limits.cpus`.
        key: &'static str,
        /// The value asked for.
        value: f32,
        /// The CPUs this host has.
        ncpu: usize,
    },
    /// `logging.options` `max-size` or `max-file` is not a usable value.
    #[error("services.{service}.logging.options.{key}: {value:?} {why}")]
    LogOption {
        /// The service.
        service: String,
        /// The option.
        key: String,
        /// Its value (shortened).
        value: String,
        /// What is wrong with it.
        why: String,
    },
}

/// The entrypoint and arguments as docker combines them: a service `entrypoint`
/// replaces the image's and drops the image's `Cmd`; `command` replaces `Cmd`.
pub fn command_line(svc: &ServiceConfig, image: &RuntimeConfig) -> Vec<String> {
    let (entry, cmd) = match &svc.entrypoint {
        Some(e) => (e.clone(), svc.command.clone().unwrap_or_default()),
        None => (
            image.entrypoint.clone().unwrap_or_default(),
            svc.command
                .clone()
                .or_else(|| image.cmd.clone())
                .unwrap_or_default(),
        ),
    };
    entry.into_iter().chain(cmd).collect()
}

/// The environment: the image's, then the service's, with `PATH` and `HOSTNAME`
/// as docker adds them. A bare key the caller's environment did not set unsets
/// the image's value, as docker does with an entry that has no `=`.
pub fn environment(svc: &ServiceConfig, image: &RuntimeConfig, hostname: &str) -> Vec<String> {
    let mut env: IndexMap<String, String> = IndexMap::new();
    for kv in image.env.iter().flatten() {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        env.insert(k.to_string(), v.to_string());
    }
    for (k, v) in &svc.environment {
        match v {
            Some(v) => env.insert(k.clone(), v.clone()),
            None => env.shift_remove(k),
        };
    }
    env.entry("PATH".into())
        .or_insert_with(|| DEFAULT_PATH.into());
    env.insert("HOSTNAME".into(), hostname.into());
    if svc.tty {
        env.entry("TERM".into()).or_insert_with(|| "xterm".into());
    }
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    // docker puts PATH and HOSTNAME first; a stable order keeps specs comparable.
    for key in ["PATH", "HOSTNAME"] {
        if let Some(v) = env.shift_remove(key) {
            out.push(format!("{key}={v}"));
        }
    }
    out.extend(env.into_iter().map(|(k, v)| format!("{k}={v}")));
    out
}

/// The restart policy: `deploy.restart_policy` wins over `restart`, as in docker compose.
pub fn restart_policy(svc: &ServiceConfig) -> Result<RestartPolicy, SettingsError> {
    if let Some(rp) = svc.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) {
        let max = rp.max_attempts.map(|m| m.min(u32::MAX as u64) as u32);
        if let Some(p) = RestartPolicy::from_deploy(Some(rp.condition.as_str()), max) {
            return Ok(p);
        }
    }
    svc.restart
        .parse()
        .map_err(|source| SettingsError::Restart {
            service: svc.name.clone(),
            source,
        })
}

/// Log rotation from `logging.options`, as docker's json-file driver reads
/// `max-size` and `max-file`; without `max-size`, berth's bounded default
/// ([`Rotation::DEFAULT`], docker's `local` driver's 20m × 5) instead of
/// json-file's unbounded log.
pub fn log_rotation(svc: &ServiceConfig) -> Result<Rotation, SettingsError> {
    let opts = svc.logging.as_ref().map(|l| &l.options);
    let get = |key: &str| opts.and_then(|o| o.get(key));
    let bad = |key: &str, value: &str, why: &str| SettingsError::LogOption {
        service: svc.name.clone(),
        key: key.into(),
        value: crate::report::shorten(value),
        why: why.into(),
    };
    let max_size = match get("max-size") {
        None => {
            return Ok(Rotation {
                max_files: match get("max-file") {
                    Some(n) => max_file(n).map_err(|why| bad("max-file", n, why))?,
                    None => Rotation::DEFAULT.max_files,
                },
                ..Rotation::DEFAULT
            })
        }
        Some(size) => match crate::compose::model::bytes::parse_bytes(size) {
            Ok(n) if n > 0 => n as u64,
            Ok(_) => return Err(bad("max-size", size, "must be a positive number")),
            Err(why) => return Err(bad("max-size", size, &why)),
        },
    };
    // json-file keeps one file unless told otherwise.
    let max_files = match get("max-file") {
        Some(n) => max_file(n).map_err(|why| bad("max-file", n, why))?,
        None => 1,
    };
    Ok(Rotation {
        max_size,
        max_files,
    })
}

fn max_file(n: &str) -> Result<u32, &'static str> {
    match n.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err("cannot be less than 1"),
        Err(_) => Err("must be a whole number"),
    }
}

fn dur(ns: Option<i64>) -> Duration {
    Duration::from_nanos(ns.unwrap_or(0).max(0) as u64)
}

/// The healthcheck: the service's, else the image's; `None` when disabled or absent.
pub fn healthcheck(svc: &ServiceConfig, image: &RuntimeConfig) -> Option<HealthConfig> {
    let img = image.healthcheck.as_ref();
    let hc = svc.healthcheck.as_ref();
    if hc.is_some_and(|h| h.disable) {
        return None;
    }
    let test = match hc.map(|h| &h.test) {
        Some(t) if !t.is_empty() => t.clone(),
        _ => img.and_then(|i| i.test.clone())?,
    };
    let command = probe_command(&test)?;
    let pick = |svc_v: Option<Duration>, img_v: Option<i64>| svc_v.unwrap_or_else(|| dur(img_v));
    Some(
        HealthConfig {
            command,
            interval: pick(
                hc.and_then(|h| h.interval.map(|d| d.as_std())),
                img.and_then(|i| i.interval),
            ),
            timeout: pick(
                hc.and_then(|h| h.timeout.map(|d| d.as_std())),
                img.and_then(|i| i.timeout),
            ),
            retries: hc
                .and_then(|h| h.retries)
                .map(|r| r as u32)
                .or_else(|| img.and_then(|i| i.retries).map(|r| r as u32))
                .unwrap_or(0),
            start_period: pick(
                hc.and_then(|h| h.start_period.map(|d| d.as_std())),
                img.and_then(|i| i.start_period),
            ),
            start_interval: pick(
                hc.and_then(|h| h.start_interval.map(|d| d.as_std())),
                img.and_then(|i| i.start_interval),
            ),
        }
        .with_defaults(),
    )
}

/// Parses a docker signal name or number (`SIGTERM`, `TERM`, `15`).
pub fn signal_number(s: &str) -> Option<i32> {
    if s.is_empty() {
        return Some(libc::SIGTERM);
    }
    berth_runtime::container::parse_signal(s)
}

/// The settings of `svc` that do not depend on networks or mounts.
pub fn run_config(
    svc: &ServiceConfig,
    image: &RuntimeConfig,
    hostname: &str,
) -> Result<RunConfig, SettingsError> {
    let args = command_line(svc, image);
    if args.is_empty() {
        return Err(SettingsError::NoCommand(svc.name.clone()));
    }
    let limits = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.limits.as_ref());
    let reservations = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.reservations.as_ref());
    let pos = |v: i64| (v > 0).then_some(v);
    let memory = limits
        .and_then(|l| pos(l.memory.0))
        .or_else(|| pos(svc.mem_limit.0));
    let cpus = limits
        .map(|l| l.cpus)
        .filter(|c| *c > 0.0)
        .or((svc.cpus > 0.0).then_some(svc.cpus));
    // docker's daemon check: more CPUs than the host has is a typo, not a wish
    // for "no limit" (and 1e30 × the CFS period overflows the quota).
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(c) = cpus.filter(|c| *c as f64 > ncpu as f64) {
        let key = if limits.is_some_and(|l| l.cpus > 0.0) {
            "deploy.resources.limits.cpus"
        } else {
            "cpus"
        };
        return Err(SettingsError::Cpus {
            service: svc.name.clone(),
            key,
            value: c,
            ncpu,
        });
    }
    let mut security_nnp = false;
    let mut seccomp_unconfined = svc.privileged;
    for opt in &svc.security_opt {
        match opt.as_str() {
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => {
                security_nnp = true
            }
            "seccomp=unconfined" | "seccomp:unconfined" => seccomp_unconfined = true,
            other => tracing::warn!(
                "services.{}.security_opt: {other:?} is not supported yet and is ignored",
                svc.name
            ),
        }
    }
    Ok(RunConfig {
        args,
        env: environment(svc, image, hostname),
        cwd: if !svc.working_dir.is_empty() {
            svc.working_dir.clone()
        } else {
            image
                .working_dir
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into())
        },
        hostname: hostname.to_string(),
        domainname: (!svc.domainname.is_empty()).then(|| svc.domainname.clone()),
        terminal: svc.tty,
        cap_add: svc.cap_add.clone(),
        cap_drop: svc.cap_drop.clone(),
        privileged: svc.privileged,
        no_new_privileges: security_nnp,
        seccomp_unconfined,
        read_only: svc.read_only,
        ulimits: svc
            .ulimits
            .iter()
            .map(|(k, u)| {
                let (soft, hard) = if u.single > 0 {
                    (u.single, u.single)
                } else {
                    (u.soft, u.hard)
                };
                (k.clone(), (soft.max(0) as u64, hard.max(0) as u64))
            })
            .collect(),
        sysctls: svc
            .sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        shm_size: pos(svc.shm_size.0).map(|v| v as u64),
        devices: svc
            .devices
            .iter()
            .map(|d| {
                let perms = if d.permissions.is_empty() {
                    "rwm".into()
                } else {
                    d.permissions.clone()
                };
                let target = if d.target.is_empty() {
                    d.source.clone()
                } else {
                    d.target.clone()
                };
                (d.source.clone(), target, perms)
            })
            .collect(),
        oom_score_adj: (svc.oom_score_adj != 0).then_some(svc.oom_score_adj as i32),
        memory,
        memory_reservation: reservations
            .and_then(|r| pos(r.memory.0))
            .or_else(|| pos(svc.mem_reservation.0)),
        memory_swap: pos(svc.memswap_limit.0),
        cpu_quota: cpus.map(|c| (c as f64 * 100_000.0).round() as i64),
        cpu_shares: (svc.cpu_shares > 0).then_some(svc.cpu_shares as u64),
        cpuset: (!svc.cpuset.is_empty()).then(|| svc.cpuset.clone()),
        pids_limit: limits
            .and_then(|l| pos(l.pids))
            .or_else(|| pos(svc.pids_limit)),
        cgroup_ns: cgroup_ns(&svc.cgroup, berth_runtime::cgroups::hierarchies()),
        ..RunConfig::default()
    })
}

/// Whether the container gets a cgroup namespace: `cgroup: private|host`, or docker's
/// default for the host: private where cgroups are v2 only, the host's on v1 and hybrid
/// hosts (where the runtime binds the container's own cgroups at /sys/fs/cgroup instead).
pub fn cgroup_ns(key: &str, host: &[berth_runtime::cgroups::Hierarchy]) -> bool {
    match key {
        "private" => true,
        "host" => false,
        _ => matches!(host, [only] if only.version == 2),
    }
}

/// The sysctls docker sets in a network namespace made for the container alone (not
/// `host`, not another container's): any user may bind ports below 1024 and open ICMP
/// echo sockets, since the namespace is the container's own. The service's own
/// `sysctls:` win (moby daemon/oci_linux.go, `WithSysctls`).
pub fn own_netns_sysctls(rc: &mut RunConfig) {
    // Rootless, only the gids the user namespace maps may be named (EINVAL else).
    let ping = format!("0 {}", crate::rootless::max_mapped_gid());
    for (key, value) in [
        ("net.ipv4.ip_unprivileged_port_start", "0"),
        ("net.ipv4.ping_group_range", ping.as_str()),
    ] {
        rc.sysctls
            .entry(key.to_string())
            .or_insert_with(|| value.to_string());
    }
}

/// Service keys berth reads but cannot honour yet; each is warned about once.
pub fn unsupported_keys(svc: &ServiceConfig) -> Vec<&'static str> {
    let mut out = vec![];
    let mut check = |set: bool, key: &'static str| {
        if set {
            out.push(key);
        }
    };
    check(!svc.gpus.is_empty(), "gpus");
    check(!svc.device_cgroup_rules.is_empty(), "device_cgroup_rules");
    // keep-id is rootless berth's (checked by rootless::project).
    check(
        !svc.userns_mode.is_empty() && svc.userns_mode != crate::rootless::keep_id::MODE,
        "userns_mode",
    );
    check(!svc.runtime.is_empty(), "runtime");
    check(!svc.storage_opt.is_empty(), "storage_opt");
    check(svc.blkio_config.is_some(), "blkio_config");
    check(!svc.cgroup_parent.is_empty(), "cgroup_parent");
    check(svc.oom_kill_disable, "oom_kill_disable");
    check(
        svc.logging.as_ref().is_some_and(|l| {
            !l.driver.is_empty() && l.driver != "json-file" && l.driver != "local"
        }),
        "logging.driver",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(yaml: &str) -> ServiceConfig {
        let mut s: ServiceConfig = serde_yaml_ng::from_str(yaml).unwrap();
        s.name = "web".into();
        s
    }

    fn image(entry: Option<&[&str]>, cmd: Option<&[&str]>) -> RuntimeConfig {
        RuntimeConfig {
            entrypoint: entry.map(|v| v.iter().map(|s| s.to_string()).collect()),
            cmd: cmd.map(|v| v.iter().map(|s| s.to_string()).collect()),
            env: Some(vec!["PATH=/img/bin".into(), "A=1".into()]),
            ..RuntimeConfig::default()
        }
    }

    #[test]
    fn command_rules_are_dockers() {
        let img = image(Some(&["/entry"]), Some(&["default"]));
        assert_eq!(command_line(&svc("image: x"), &img), ["/entry", "default"]);
        assert_eq!(
            command_line(&svc("command: [a, b]"), &img),
            ["/entry", "a", "b"]
        );
        assert_eq!(command_line(&svc("entrypoint: [sh]"), &img), ["sh"]);
        assert_eq!(
            command_line(&svc("entrypoint: [sh]\ncommand: [-c, x]"), &img),
            ["sh", "-c", "x"]
        );
        assert!(run_config(&svc("entrypoint: []"), &image(None, Some(&["x"])), "h").is_err());
    }

    #[test]
    fn environment_layers_image_then_service() {
        let env = environment(
            &svc("environment: {A: '2', B: '3', C: null}"),
            &image(None, None),
            "abc",
        );
        assert_eq!(env, ["PATH=/img/bin", "HOSTNAME=abc", "A=2", "B=3"]);
        // A bare key with no value unsets the image's.
        let mut img = image(None, None);
        img.env = Some(vec!["PATH=/img/bin".into(), "C=image".into()]);
        let env = environment(&svc("environment: {C: null}"), &img, "abc");
        assert_eq!(env, ["PATH=/img/bin", "HOSTNAME=abc"]);
    }

    #[test]
    fn more_cpus_than_the_host_has_is_an_error() {
        let img = image(None, Some(&["x"]));
        let e = run_config(&svc("cpus: 1e30"), &img, "h").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("services.web.cpus: 1000000000000000000000000000000 is out of range: range of CPUs is from 0.01 to "),
            "{e}"
        );
        let e = run_config(
            &svc("deploy: {resources: {limits: {cpus: '100000'}}}"),
            &img,
            "h",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("services.web.deploy.resources.limits.cpus: 100000 is out of range"),
            "{e}"
        );
    }

    #[test]
    fn logs_are_bounded_unless_the_service_says_otherwise() {
        let rot = |y: &str| log_rotation(&svc(y));
        // Nothing said: docker's `local` driver's bound, 20m × 5.
        let default = Rotation {
            max_size: 20 << 20,
            max_files: 5,
        };
        assert_eq!(rot("image: x").unwrap(), default);
        assert_eq!(rot("logging: {driver: json-file}").unwrap(), default);
        // json-file's options as docker compose passes them.
        let one = Rotation {
            max_size: 10 << 20,
            max_files: 1,
        };
        assert_eq!(rot("logging: {options: {max-size: 10m}}").unwrap(), one);
        assert_eq!(rot("logging: {options: {max-size: 10MiB}}").unwrap(), one);
        assert_eq!(
            rot("logging: {options: {max-file: '2'}}").unwrap(),
            Rotation {
                max_files: 2,
                ..default
            }
        );
        for (y, says) in [
            ("max-size: 0", "\"0\" must be a positive number"),
            ("max-size: 10x", "invalid size"),
            ("max-size: 99999999999999999999g", "out of range"),
            ("{max-size: 1m, max-file: '0'}", "cannot be less than 1"),
            ("{max-size: 1m, max-file: lots}", "must be a whole number"),
        ] {
            let y = if y.starts_with('{') {
                format!("logging: {{options: {y}}}")
            } else {
                format!("logging: {{options: {{{y}}}}}")
            };
            let e = rot(&y).unwrap_err().to_string();
            assert!(e.starts_with("services.web.logging.options.max-"), "{e}");
            assert!(e.contains(says), "{y}: {e}");
        }
    }

    #[test]
    fn limits_and_policies() {
        let s = svc("mem_limit: 64m\ncpus: 0.5\npids_limit: 30\nrestart: on-failure:2\nlogging: {options: {max-size: 1m, max-file: '3'}}");
        let rc = run_config(&s, &image(None, Some(&["x"])), "h").unwrap();
        assert_eq!(rc.memory, Some(64 << 20));
        assert_eq!(rc.cpu_quota, Some(50_000));
        assert_eq!(rc.pids_limit, Some(30));
        assert_eq!(
            restart_policy(&s).unwrap(),
            RestartPolicy::OnFailure { max_retries: 2 }
        );
        assert_eq!(
            log_rotation(&s).unwrap(),
            Rotation {
                max_size: 1 << 20,
                max_files: 3
            }
        );
        let d = svc(
            "restart: always\ndeploy: {restart_policy: {condition: on-failure, max_attempts: 4}}",
        );
        assert_eq!(
            restart_policy(&d).unwrap(),
            RestartPolicy::OnFailure { max_retries: 4 }
        );
    }

    #[test]
    fn cgroup_namespace_is_dockers_default_per_host() {
        use berth_runtime::cgroups::Hierarchy;
        let h = |version: u8, mount: &str| Hierarchy {
            version,
            mount: mount.into(),
            controllers: vec![],
        };
        let v2 = [h(2, "/sys/fs/cgroup")];
        let hybrid = [
            h(1, "/sys/fs/cgroup/memory"),
            h(2, "/sys/fs/cgroup/unified"),
        ];
        assert!(cgroup_ns("", &v2));
        assert!(!cgroup_ns("", &hybrid));
        assert!(cgroup_ns("private", &hybrid));
        assert!(!cgroup_ns("host", &v2));
    }

    #[test]
    fn own_netns_gets_dockers_sysctls_unless_the_service_sets_them() {
        let s = svc("sysctls: {net.ipv4.ip_unprivileged_port_start: '1024'}");
        let mut rc = run_config(&s, &image(None, Some(&["x"])), "h").unwrap();
        own_netns_sysctls(&mut rc);
        assert_eq!(rc.sysctls["net.ipv4.ip_unprivileged_port_start"], "1024");
        assert_eq!(rc.sysctls["net.ipv4.ping_group_range"], "0 2147483647");
    }

    #[test]
    fn healthcheck_from_service_or_image() {
        let s = svc("healthcheck: {test: [CMD, nc, -z, x], interval: 2s, retries: 5}");
        let h = healthcheck(&s, &image(None, None)).unwrap();
        assert_eq!(h.command, ["nc", "-z", "x"]);
        assert_eq!(h.interval, Duration::from_secs(2));
        assert_eq!(h.retries, 5);
        assert!(healthcheck(&svc("healthcheck: {disable: true}"), &image(None, None)).is_none());
        assert!(healthcheck(&svc("image: x"), &image(None, None)).is_none());
    }
}
