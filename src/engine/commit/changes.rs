//! `commit --change`: Dockerfile instructions applied to the new image's config,
//! as `docker commit` takes them. Each is parsed with the builder's Dockerfile
//! parser; only the instructions docker accepts in a commit are allowed.

use std::collections::BTreeMap;

use serde_json::json;

use crate::build::dockerfile::{self, CommandLine, Healthcheck, Instruction, KeyValue};
use crate::image::oci::RuntimeConfig;

/// Why a `--change` was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// Not a Dockerfile instruction.
    #[error("--change {change:?}: {reason}")]
    Parse {
        /// The change as given.
        change: String,
        /// What the parser said.
        reason: String,
    },
    /// An instruction `commit` does not take (RUN, COPY, FROM…).
    #[error("{0} is not a valid change command")]
    NotAllowed(String),
}

/// Applies one `--change` to `config`; the author moves for `MAINTAINER`-less
/// images only through `-a`, so it is not touched here.
pub fn apply(config: &mut RuntimeConfig, change: &str) -> Result<(), ChangeError> {
    let instr = dockerfile::parse_trigger(change, "--change").map_err(|e| match e.kind {
        dockerfile::ErrorKind::Arguments(ref m) if m.contains("isn't allowed") => {
            ChangeError::NotAllowed(keyword(change))
        }
        _ => ChangeError::Parse {
            change: change.to_string(),
            reason: e.to_string(),
        },
    })?;
    let env = config.env.clone().unwrap_or_default();
    let lookup = move |k: &str| -> Option<String> {
        env.iter()
            .rev()
            .find_map(|e| e.strip_prefix(k)?.strip_prefix('=').map(String::from))
    };
    let ex = |w: &str| -> Result<String, ChangeError> {
        dockerfile::expand(w, '\\', &lookup).map_err(|e| ChangeError::Parse {
            change: change.to_string(),
            reason: e.to_string(),
        })
    };
    match instr {
        Instruction::Cmd(c) => config.cmd = Some(argv(config, c)),
        Instruction::Entrypoint(c) => config.entrypoint = Some(argv(config, c)),
        Instruction::Env(pairs) => {
            for KeyValue { key, value, .. } in pairs {
                let (k, v) = (ex(&key)?, ex(&value)?);
                let env = config.env.get_or_insert_with(Vec::new);
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != k);
                env.push(format!("{k}={v}"));
            }
        }
        Instruction::Expose(ports) => {
            let map = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in ports {
                let p = ex(&p)?;
                let key = if p.contains('/') {
                    p
                } else {
                    format!("{p}/tcp")
                };
                map.insert(key, json!({}));
            }
        }
        Instruction::Label(pairs) => {
            let map = config.labels.get_or_insert_with(BTreeMap::new);
            for KeyValue { key, value, .. } in pairs {
                map.insert(ex(&key)?, ex(&value)?);
            }
        }
        Instruction::User(u) => config.user = Some(ex(&u)?),
        Instruction::Volume(vols) => {
            let map = config.volumes.get_or_insert_with(BTreeMap::new);
            for v in vols {
                map.insert(ex(&v)?, json!({}));
            }
        }
        Instruction::Workdir(w) => {
            let w = ex(&w)?;
            let w = if w.starts_with('/') {
                w
            } else {
                let base = config.working_dir.clone().unwrap_or_else(|| "/".into());
                format!("{}/{w}", base.trim_end_matches('/'))
            };
            config.working_dir = Some(w);
        }
        Instruction::StopSignal(s) => config.stop_signal = Some(ex(&s)?),
        Instruction::Onbuild(o) => {
            let mut list: Vec<String> = config
                .other
                .get("OnBuild")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            list.push(o.expression);
            config.other.insert("OnBuild".into(), json!(list));
        }
        Instruction::Healthcheck(h) => {
            config.healthcheck = Some(match h {
                Healthcheck::None => crate::image::Healthcheck {
                    test: Some(vec!["NONE".into()]),
                    ..Default::default()
                },
                Healthcheck::Check(c) => {
                    let ns = |d: std::time::Duration| {
                        let n = d.as_nanos() as i64;
                        (n != 0).then_some(n)
                    };
                    crate::image::Healthcheck {
                        test: Some(c.test()),
                        interval: ns(c.interval),
                        timeout: ns(c.timeout),
                        start_period: ns(c.start_period),
                        start_interval: ns(c.start_interval),
                        retries: (c.retries != 0).then_some(i64::from(c.retries)),
                    }
                }
            })
        }
        other => return Err(ChangeError::NotAllowed(other.keyword().to_lowercase())),
    }
    Ok(())
}

fn keyword(change: &str) -> String {
    change
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

/// The argv of CMD/ENTRYPOINT: the exec form as is, the shell form through the
/// image's shell.
fn argv(config: &RuntimeConfig, c: CommandLine) -> Vec<String> {
    match c {
        CommandLine::Exec(v) => v,
        CommandLine::Shell(s) => {
            let mut a: Vec<String> = config
                .other
                .get("Shell")
                .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
            a.push(s);
            a
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_cmd_and_labels_change_the_config() {
        let mut c = RuntimeConfig {
            env: Some(vec!["PATH=/bin".into(), "DEBUG=false".into()]),
            ..Default::default()
        };
        apply(&mut c, "ENV DEBUG=true").unwrap();
        apply(&mut c, "ENV P2=$PATH:/x").unwrap();
        apply(&mut c, "CMD echo hi").unwrap();
        apply(&mut c, r#"ENTRYPOINT ["/bin/env"]"#).unwrap();
        apply(&mut c, "LABEL a=b").unwrap();
        apply(&mut c, "EXPOSE 80").unwrap();
        apply(&mut c, "WORKDIR /srv").unwrap();
        apply(&mut c, "WORKDIR app").unwrap();
        assert_eq!(
            c.env.unwrap(),
            vec!["PATH=/bin", "DEBUG=true", "P2=/bin:/x"]
        );
        assert_eq!(c.cmd.unwrap(), vec!["/bin/sh", "-c", "echo hi"]);
        assert_eq!(c.entrypoint.unwrap(), vec!["/bin/env"]);
        assert_eq!(c.labels.unwrap()["a"], "b");
        assert!(c.exposed_ports.unwrap().contains_key("80/tcp"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv/app"));
    }

    #[test]
    fn build_steps_are_refused() {
        let mut c = RuntimeConfig::default();
        let e = apply(&mut c, "RUN rm -rf /").unwrap_err();
        assert_eq!(e.to_string(), "run is not a valid change command");
        assert!(apply(&mut c, "FROM scratch").is_err());
        assert!(apply(&mut c, "NOPE x").is_err());
    }
}
