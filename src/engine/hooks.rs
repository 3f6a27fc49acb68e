//! Service lifecycle hooks (`post_start`, `pre_stop`): commands exec'd in the
//! service's running container, as docker compose (≥ 2.30) runs them.

use std::path::Path;

use anyhow::{Context as _, Result};

use super::exec::{exec, ExecOptions};
use crate::compose::model::service::ServiceHook;
use crate::compose::model::ServiceConfig;
use crate::container::list::{observed_status, Found};
use crate::container::ContainerRecord;

/// A hook that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The hook's command exited non-zero (docker compose's wording).
    #[error("{service} hook exited with status {code}")]
    Exited {
        /// The service.
        service: String,
        /// The exit status.
        code: i32,
    },
}

/// The exec that runs `hook`: its user, privileges, working directory and
/// environment over the container's; its output is discarded, as docker compose
/// does for hooks of detached containers.
fn hook_exec(hook: &ServiceHook) -> ExecOptions {
    ExecOptions {
        command: hook.command.clone().unwrap_or_default(),
        env: hook
            .environment
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect(),
        user: (!hook.user.is_empty()).then(|| hook.user.clone()),
        workdir: (!hook.working_dir.is_empty()).then(|| hook.working_dir.clone()),
        tty: false,
        detach: false,
        privileged: hook.privileged,
        discard_output: true,
    }
}

/// Runs `hooks` in order in `found`, stopping at the first that fails.
fn run_hooks(svc: &ServiceConfig, found: &Found, hooks: &[ServiceHook], kind: &str) -> Result<()> {
    for hook in hooks {
        let code = exec(found, &hook_exec(hook))
            .with_context(|| format!("services.{}.{kind}", svc.name))?;
        if code != 0 {
            return Err(HookError::Exited {
                service: svc.name.clone(),
                code,
            }
            .into());
        }
    }
    Ok(())
}

/// The service a container was created from (its `service.json`).
pub fn stored_service(found: &Found) -> Option<ServiceConfig> {
    let mut svc: ServiceConfig = crate::state::ContainerDir::new(&found.dir).read_service()?;
    // The name is the key it had in the file, not a field of its own.
    svc.name = found.record.service.clone();
    Some(svc)
}

/// The container in `dir` as `exec` needs it.
pub fn found(dir: &Path) -> Result<Found> {
    Ok(Found {
        status: observed_status(dir),
        dir: dir.to_path_buf(),
        record: ContainerRecord::load(dir)?,
    })
}

/// Runs the service's `post_start` hooks in its container, just started.
pub fn post_start(svc: &ServiceConfig, found: &Found) -> Result<()> {
    run_hooks(svc, found, &svc.post_start, "post_start")
}

/// Runs the service's `pre_stop` hooks in its running container.
pub fn pre_stop(svc: &ServiceConfig, found: &Found) -> Result<()> {
    run_hooks(svc, found, &svc.pre_stop, "pre_stop")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_fields_become_exec_options() {
        let hook: ServiceHook = serde_yaml_ng::from_str(
            "command: [sh, -c, 'id -u']\nuser: nobody\nprivileged: true\nworking_dir: /tmp\nenvironment: {A: '1', B: null}",
        )
        .unwrap();
        let o = hook_exec(&hook);
        assert_eq!(o.command, ["sh", "-c", "id -u"]);
        assert_eq!(o.env, ["A=1"]);
        assert_eq!(o.user.as_deref(), Some("nobody"));
        assert_eq!(o.workdir.as_deref(), Some("/tmp"));
        assert!(o.privileged && o.discard_output && !o.detach && !o.tty);
    }

    #[test]
    fn failure_reads_as_docker_compose_says_it() {
        let e = HookError::Exited {
            service: "sample".into(),
            code: 127,
        };
        assert_eq!(e.to_string(), "sample hook exited with status 127");
    }
}
